"""Errors raised by :mod:`signing`.

``SigningError`` is the root of the tree; each carries a message meant for the
person who has to fix the input:

- ``CredentialError``: a signing credential that cannot be used (a broken
  PKCS#12, a wrong passphrase, an expired certificate, a key that does not match).
  - ``SignerRevoked``: the signer's certificate is revoked; nothing was signed.
- ``PdfError``: the file is not a PDF we can work with (broken, encrypted, too large).
- ``TimestampError``: the time-stamping authority could not be reached or refused.
- ``RevocationError``: revocation data (OCSP/CRL) could not be obtained for a level
  that needs it.
- ``TemplateError``: a DOCX template is missing, broken, or its data does not fit.
- ``ConversionError``: LibreOffice could not turn a document into PDF.
  - ``ConverterMissing``: LibreOffice (``soffice``) is not installed.
  - ``ConversionTimeout``: the conversion took longer than allowed and was stopped.
"""

from __future__ import annotations


class SigningError(Exception):
    """Root of every error this library raises."""


class CredentialError(SigningError):
    """The signing credential cannot be used."""


class SignerRevoked(CredentialError):
    """The signer's certificate is revoked; nothing was signed."""


class PdfError(SigningError):
    """The PDF is broken, encrypted, or otherwise unusable."""


class TimestampError(SigningError):
    """The time-stamping authority could not be reached or refused the request."""


class RevocationError(SigningError):
    """Revocation information needed for the signature level could not be obtained."""


class TemplateError(SigningError):
    """A DOCX template is missing, broken, or does not fit its data."""


class ConversionError(SigningError):
    """LibreOffice could not convert the document."""


class ConverterMissing(ConversionError):
    """LibreOffice is not installed (no ``soffice`` on the PATH)."""


class ConversionTimeout(ConversionError):
    """The conversion took longer than allowed and was stopped."""
