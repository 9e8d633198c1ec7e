"""Forms of the signing pages, the words for verification results and the services' messages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, PasswordField, StringField

import signing
from edms.documents.forms import set_errors
from edms.main.views import translate_message
from edms.signing import services


class VerifyFileForm(FlaskForm):
    file = FileField(_l("Signed PDF file"), render_kw={"accept": ".pdf,application/pdf"})
    # Set when the file is compared with the document of a verification code.
    document_code = HiddenField()


class VerifyCodeForm(FlaskForm):
    """Read from the query string (a GET form: nothing changes, no CSRF token)."""

    class Meta:
        csrf = False

    code = StringField(
        _l("Verification code"),
        render_kw={
            "autocomplete": "off",
            "autocapitalize": "characters",
            "spellcheck": "false",
            "placeholder": "XXXX-XXXX-XXXX",
        },
    )


class CredentialForm(FlaskForm):
    file = FileField(_l("PKCS#12 file (.p12 or .pfx)"), render_kw={"accept": ".p12,.pfx"})
    passphrase = PasswordField(_l("Passphrase of the file"), render_kw={"autocomplete": "off"})


class TrustForm(FlaskForm):
    file = FileField(
        _l("Certificate of the authority (PEM or DER)"), render_kw={"accept": ".pem,.crt,.cer,.der"}
    )
    note = StringField(_l("Note"), render_kw={"maxlength": 500})


INDICATIONS = {
    "TOTAL_PASSED": _l("Valid signature"),
    "INDETERMINATE": _l("Cannot be confirmed"),
    "TOTAL_FAILED": _l("Invalid signature"),
}

#: Why a signature did not pass, in words (ETSI EN 319 102-1 sub-indications).
REASONS = {
    "NO_CERTIFICATE_CHAIN_FOUND": _l(
        "the signer’s certificate is not issued by an authority we trust"
    ),
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": _l("the signer’s certificate chain cannot be checked"),
    "REVOKED": _l("the signer’s certificate has been revoked"),
    "REVOKED_NO_POE": _l(
        "the signer’s certificate has been revoked, and nothing proves the signature was made before"
    ),
    "REVOKED_CA_NO_POE": _l("the certificate of the signer’s authority has been revoked"),
    "TRY_LATER": _l(
        "the revocation status of the signer’s certificate is unknown; try again later"
    ),
    "HASH_FAILURE": _l("the document was changed after signing"),
    "SIG_CRYPTO_FAILURE": _l("the signature does not match the document"),
    "FORMAT_FAILURE": _l("the signature is damaged or in a format we cannot read"),
    "OUT_OF_BOUNDS_NO_POE": _l("the signer’s certificate was not valid at the time of signing"),
    "OUT_OF_BOUNDS_NOT_REVOKED": _l(
        "the signer’s certificate was not valid at the time of signing"
    ),
    "EXPIRED": _l("the signer’s certificate has expired"),
    "NOT_YET_VALID": _l("the signer’s certificate was not yet valid at the time of signing"),
    "NO_SIGNING_CERTIFICATE_FOUND": _l("the signer’s certificate is missing from the signature"),
    "CHAIN_CONSTRAINTS_FAILURE": _l("the signer’s certificate chain breaks the rules for signing"),
    "SIG_CONSTRAINTS_FAILURE": _l("the signature breaks the rules for signatures"),
    "CRYPTO_CONSTRAINTS_FAILURE": _l("the signature uses an algorithm no longer considered safe"),
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": _l(
        "the signature uses an algorithm no longer considered safe"
    ),
    "REVOCATION_OUT_OF_BOUNDS_NO_POE": _l("the revocation data does not cover the signing time"),
    "NO_POE": _l("nothing proves when the signature was made"),
    "SIGNED_DATA_NOT_FOUND": _l("the signed data cannot be found"),
    "TIMESTAMP_ORDER_FAILURE": _l("the time stamps of the signature are out of order"),
    "POLICY_PROCESSING_ERROR": _l("the signature policy cannot be processed"),
    "SIGNATURE_POLICY_NOT_AVAILABLE": _l("the signature policy is not available"),
}

#: Files that cannot be checked at all (``VerificationReport.problem_code``).
PROBLEMS = {
    "NOT_A_PDF": _l("This file is not a PDF we can read."),
    "ENCRYPTED": _l("This PDF is protected by a password: its signatures cannot be checked."),
    "NO_SIGNATURE": _l("This PDF carries no electronic signature."),
}

LEVELS = {
    "PAdES-BASELINE-B": _l("PAdES B-B (basic, without a time stamp)"),
    "PAdES-BASELINE-T": _l("PAdES B-T (with a trusted time stamp)"),
    "PAdES-BASELINE-LT": _l("PAdES B-LT (long-term: with revocation data)"),
    "PAdES-BASELINE-LTA": _l("PAdES B-LTA (long-term with an archive time stamp)"),
}

SOURCES = {
    "config": _l("Configuration file"),
    "database": _l("Added here"),
    "demo": _l("Demo CA"),
}

CREDENTIAL_SOURCES = {
    "uploaded": _l("Uploaded"),
    "demo_ca": _l("Demo CA"),
    "pkcs11": _l("Hardware token"),
}

#: Messages of ``edms.signing.services`` the catalogue translates.
MESSAGES = {
    services.NO_CREDENTIAL: _l(
        "You have no signing credential: upload one on the Signing credential page "
        "or ask an administrator"
    ),
    services.NOT_A_PDF: _l("The current version is not a PDF: upload a PDF or convert it first"),
    services.PKI_MISSING: _l(
        "The demo certificate authority has not been set up: run `edms pki init`"
    ),
    services.NO_TRUST: _l(
        "no certificate authority is trusted yet: an administrator adds one on the Trust store page"
    ),
    "wrong passphrase for the PKCS#12 file": _l("wrong passphrase for the PKCS#12 file"),
    "not a PKCS#12 file with a key (.p12 or .pfx)": _l(
        "not a PKCS#12 file with a key (.p12 or .pfx)"
    ),
    "this certificate is already registered here": _l(
        "this certificate is already registered here"
    ),
    "not a certificate in PEM or DER form (.pem, .crt, .cer)": _l(
        "not a certificate in PEM or DER form (.pem, .crt, .cer)"
    ),
    "not the certificate of a certificate authority (it may not issue others)": _l(
        "not the certificate of a certificate authority (it may not issue others)"
    ),
    "the certificate has expired": _l("the certificate has expired"),
    "this certificate is already trusted": _l("this certificate is already trusted"),
    "No such trusted certificate.": _l("No such trusted certificate."),
    "Only administrators manage the trust store.": _l(
        "Only administrators manage the trust store."
    ),
    "Only staff members sign documents.": _l("Only staff members sign documents."),
    "No such signing credential.": _l("No such signing credential."),
    "This signing credential is already revoked.": _l(
        "This signing credential is already revoked."
    ),
    "must be 12 letters and digits, like 7KQ2-M9XD-4TNB": _l(
        "must be 12 letters and digits, like 7KQ2-M9XD-4TNB"
    ),
    "Your signing credential cannot be read with the server's current key: upload it again "
    "on the Signing credential page or ask an administrator": _l(
        "Your signing credential cannot be read with the server’s current key: upload it "
        "again on the Signing credential page or ask an administrator"
    ),
}

_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"the signing certificate expired on (\S+)"),
        lambda m: gettext("the signing certificate expired on %(day)s", day=m[1]),
    ),
    (
        re.compile(r"the signing certificate is not valid before (\S+)"),
        lambda m: gettext("the signing certificate is not valid before %(day)s", day=m[1]),
    ),
    (
        re.compile(r"Your signing certificate expired on (\S+): .*"),
        lambda m: gettext(
            "Your signing certificate expired on %(day)s: upload a new one on the Signing "
            "credential page or ask an administrator",
            day=m[1],
        ),
    ),
    (
        re.compile(r"the certificate of (.*) is not issued by a trusted authority .*"),
        lambda m: gettext(
            "the certificate of %(name)s is not issued by an authority we trust", name=m[1]
        ),
    ),
    (
        re.compile(r"the certificate of (.*) is revoked; nothing was signed"),
        lambda m: gettext("the certificate of %(name)s has been revoked", name=m[1]),
    ),
)


def translate(message: Any) -> str:
    """A message of the signing services in the user's language, when it is known."""
    text = str(message)
    known = MESSAGES.get(text)
    if known is not None:
        return str(known)
    for pattern, words in _PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return words(match)
    return translate_message(text)


def set_signing_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    set_errors(form, {name: translate(message) for name, message in errors.items()})


def signature_reason(report: signing.SignatureReport) -> str | None:
    """Why a signature did not pass, in words; None when it passed."""
    if report.passed:
        return None
    words = REASONS.get(report.sub_indication or "")
    if words is not None:
        return str(words)
    return gettext(
        "the signature could not be confirmed (%(reason)s)",
        reason=report.message or report.sub_indication or "?",
    )
