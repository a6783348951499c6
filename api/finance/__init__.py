"""Finance's routes: ERP postings (JSON and CSV), the daily summary, reconciliation runs."""
