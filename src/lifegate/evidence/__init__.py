"""The evidence ledger: in-toto statements in DSSE envelopes on a signed hash chain."""
