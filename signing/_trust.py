"""Trust anchors and the validation settings built from them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from asn1crypto import x509
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager

from signing._keys import certificate_info, load_certificates

__all__ = ["TrustStore"]

# Check revocation wherever a certificate says where to find it (OCSP or CRL),
# and fail when it cannot be found: an unknown status is not a pass.
_REVOCATION = RevocationCheckingPolicy(
    ee_certificate_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
    intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
)


class TrustStore:
    """The root certificates a signature must chain to, plus known intermediates.

    Build it from PEM/DER data (the configured trust store files, certificates
    an admin added)::

        trust = TrustStore.from_data([open("root.pem", "rb").read()])
    """

    def __init__(
        self,
        roots: Iterable[x509.Certificate],
        intermediates: Iterable[x509.Certificate] = (),
        *,
        timeout: float = 10.0,
    ) -> None:
        self.roots: tuple[x509.Certificate, ...] = tuple(roots)
        self.intermediates: tuple[x509.Certificate, ...] = tuple(intermediates)
        self.timeout = timeout

    @classmethod
    def from_data(
        cls,
        roots: Iterable[bytes],
        intermediates: Iterable[bytes] = (),
        *,
        timeout: float = 10.0,
    ) -> TrustStore:
        """A trust store from PEM or DER certificates (several per PEM blob are fine)."""
        root_certs = [c for blob in roots for c in load_certificates(blob)]
        other = [c for blob in intermediates for c in load_certificates(blob)]
        return cls(root_certs, other, timeout=timeout)

    def fetcher_backend(self) -> RequestsFetcherBackend:
        """Fetches OCSP responses, CRLs and certificates over HTTP with our timeout.

        requests rather than pyHanko's default aiohttp: nothing to close, no event
        loop to share with the web server.
        """
        return RequestsFetcherBackend(per_request_timeout=self.timeout)

    def describe(self) -> list[dict[str, str | None]]:
        """The trust anchors as plain dictionaries."""
        return [certificate_info(c).as_dict() for c in self.roots]

    def validation_context(
        self, *, fetch: bool, extra: Iterable[x509.Certificate] = ()
    ) -> ValidationContext:
        """A pyHanko validation context: for signing (pre-sign checks, LT data)."""
        return ValidationContext(
            trust_roots=list(self.roots),
            other_certs=[*self.intermediates, *extra],
            allow_fetching=fetch,
            revinfo_policy=CertRevTrustPolicy(_REVOCATION),
            fetcher_backend=self.fetcher_backend(),
            time_tolerance=timedelta(seconds=30),
        )

    def pdf_validation_spec(self, *, fetch: bool) -> PdfSignatureValidationSpec:
        """Settings for AdES validation of PDF signatures (EN 319 102-1)."""
        policy = CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=list(self.roots)),
            revinfo_policy=CertRevTrustPolicy(_REVOCATION),
            time_tolerance=timedelta(seconds=30),
        )
        rule = (
            RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH
            if fetch
            else RevinfoOnlineFetchingRule.LOCAL_ONLY
        )
        return PdfSignatureValidationSpec(
            SignatureValidationSpec(
                cert_validation_policy=policy,
                revinfo_gathering_policy=RevocationInfoGatheringSpec(
                    online_fetching_rule=rule,
                    fetcher_backend=self.fetcher_backend(),
                    # A PDF from anyone must not make the server fetch URLs it names
                    # (caIssuers of untrusted certificates): intermediates come from
                    # the signature itself or the trust store. OCSP/CRL are fetched
                    # only for certificates that chain to a trusted root.
                    certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
                ),
                local_knowledge=LocalKnowledge(known_certs=list(self.intermediates)),
            )
        )
