"""Data protection: what is kept, for how long, sealed how, and what leaves.

Strategy: policy as data (`policies/*.toml`, each default with its legal source) and one module per
duty: `retention` (depersonalise and delete on time), `crypto` (encryption at rest, keyed
pseudonyms), `minimise` (only declared fields leave on the border topics), `audit` (the hash-chained
trail of reads, decisions, purges and list changes). The service and the console call these; they
call only the store.
"""
