"""The commerce platform's routes: place an order (the accept decision), read and list orders, cancel,
support's resolve, and returns."""
