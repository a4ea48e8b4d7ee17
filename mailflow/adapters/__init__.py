"""Adapters: the only code that talks to SMTP, IMAP and the store file."""
