"""Encrypted storage of personal files: envelope encryption, a streaming authenticated format,
local and S3-compatible backends, and retention with crypto-shredding. See storage/FORMAT.md."""
