"""What every o2c process shares at run time: its settings (O2C_* environment), one logging setup, and
its connection to Temporal with the payload codec. Nothing here is domain; canonical/ never imports it."""
