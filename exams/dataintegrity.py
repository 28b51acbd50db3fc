"""W3C Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite, Multikey encoding and did:web names.

The proof follows the W3C "Data Integrity EdDSA Cryptosuites v1.0" recommendation: the document
(without ``proof``) and the proof options (with the document's ``@context``) are each canonicalised
with RDF Dataset Canonicalization (RDFC-1.0, via pyld) to N-Quads, hashed with SHA-256, and the
Ed25519 signature over ``hash(proof options) || hash(document)`` is the ``proofValue`` (multibase
base58btc). JSON-LD contexts come only from the files in ``exams/contexts/``: a document naming any
other context is refused, nothing is fetched over the network.

Canonicalisation is exponential in the worst case (RDFC-1.0 permutes blank nodes that look alike: each
added node of a crafted clique costs about eight times more), so :func:`canonize` refuses documents
with more than ``MAX_BLANK_NODES`` blank nodes and gives up after ``CANON_SECONDS`` (``ProofInvalid``
with reason ``too_costly``); a credential we issue has about ten and takes a few milliseconds.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import time
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld
from pyld.canon import URDNA2015

from kernel.errors import DomainError

__all__ = [
    "CONTEXTS",
    "ProofInvalid",
    "add_proof",
    "base58btc_decode",
    "base58btc_encode",
    "canonize",
    "did_web",
    "did_web_url",
    "multikey",
    "multikey_public_key",
    "verify_proof",
]

CRYPTOSUITE = "eddsa-rdfc-2022"
CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
DID_V1 = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
_CONTEXT_DIR = Path(__file__).with_name("contexts")
CONTEXTS = {  # URL -> packaged file (sources and licences in exams/contexts/README.md)
    CREDENTIALS_V2: "credentials-v2.jsonld",
    OB_V3: "ob-context-3.0.3.json",
    DID_V1: "did-v1.jsonld",
    MULTIKEY_V1: "multikey-v1.jsonld",
}
MAX_BLANK_NODES = 32  # a credential we issue has about ten
CANON_SECONDS = 0.5  # per canonicalisation; ours take a few milliseconds
_ED25519_PUB = b"\xed\x01"  # multicodec ed25519-pub, varint
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class ProofInvalid(DomainError):
    """A Data Integrity proof did not verify; ``reason`` is malformed, too_costly, unknown_key or bad_signature."""

    status = 422
    code = "proof_invalid"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"Proof not valid ({reason}): {detail}")
        self.reason = reason
        self.detail = detail


# --- multibase / multikey --------------------------------------------------------------------------------------


def base58btc_encode(data: bytes) -> str:
    """Bitcoin base58 of ``data`` (leading zero bytes become '1')."""
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def base58btc_decode(text: str) -> bytes:
    """Inverse of :func:`base58btc_encode`; ValueError on a character outside the alphabet."""
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise ValueError("not base58btc")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def multikey(public_key: Ed25519PublicKey) -> str:
    """``publicKeyMultibase`` of an Ed25519 key: 'z' + base58btc(0xed01 || raw key)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58btc_encode(_ED25519_PUB + raw)


def multikey_public_key(text: str) -> Ed25519PublicKey:
    """The Ed25519 key of a ``publicKeyMultibase``; ValueError if it is not one."""
    if not text.startswith("z"):
        raise ValueError("not multibase base58btc")
    data = base58btc_decode(text[1:])
    if len(data) != 34 or not data.startswith(_ED25519_PUB):
        raise ValueError("not an Ed25519 multikey")
    return Ed25519PublicKey.from_public_bytes(data[2:])


# --- did:web ---------------------------------------------------------------------------------------------------


def did_web(base_url: str, *path: str) -> str:
    """The did:web of ``base_url`` (host, port and path) plus ``path`` segments, e.g. did:web:example.org:inst:x."""
    parts = urlsplit(base_url)
    segments = [quote(parts.netloc, safe="")] + [quote(s, safe="") for s in parts.path.split("/") if s]
    segments += [quote(s, safe="") for s in path]
    return "did:web:" + ":".join(segments)


def did_web_url(did: str) -> str:
    """Where a did:web document is served: https://host/.well-known/did.json or https://host/path/did.json."""
    if not did.startswith("did:web:"):
        raise ValueError("not a did:web")
    host, *path = did.removeprefix("did:web:").split(":")
    from urllib.parse import unquote

    tail = "/".join(unquote(s) for s in path) + "/did.json" if path else ".well-known/did.json"
    return f"https://{unquote(host)}/{tail}"


# --- canonicalisation ------------------------------------------------------------------------------------------


@cache
def _context(url: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((_CONTEXT_DIR / CONTEXTS[url]).read_text(encoding="utf-8"))
    return doc


def _loader(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    if url not in CONTEXTS:
        raise jsonld.JsonLdError(f"context {url} is not one of ours", "jsonld.LoadDocumentError",
                                 code="loading document failed")
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(_context(url))}


class _TooCostly(Exception):
    """Canonicalisation ran past its deadline."""


class _BoundedURDNA2015(URDNA2015):
    """pyld's RDFC-1.0 with a deadline checked at every step of the blank-node permutation search."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self._deadline = deadline

    def hash_n_degree_quads(self, id_: str, issuer: Any) -> Any:
        if time.monotonic() > self._deadline:
            raise _TooCostly
        return super().hash_n_degree_quads(id_, issuer)

    def hash_related_blank_node(self, related: str, quad: Any, issuer: Any, position: str) -> Any:
        if time.monotonic() > self._deadline:
            raise _TooCostly
        return super().hash_related_blank_node(related, quad, issuer, position)


def _blank_nodes(dataset: Mapping[str, Any]) -> int:
    found = set()
    for graph, triples in dataset.items():
        if graph.startswith("_:"):
            found.add(graph)
        for triple in triples:
            for part in (triple["subject"], triple["object"]):
                if part.get("type") == "blank node":
                    found.add(part["value"])
    return len(found)


def canonize(document: Mapping[str, Any], *, seconds: float | None = None) -> str:
    """RDFC-1.0 (URDNA2015) canonical N-Quads of a JSON-LD document, with only our packaged contexts.

    Raises ProofInvalid("malformed") when the document uses a context we do not ship or is not
    valid JSON-LD, and when a term is not defined by its contexts (it would silently drop out of
    the signed statements, as Digital Bazaar's "safe mode" refuses too); ProofInvalid("too_costly")
    beyond ``MAX_BLANK_NODES`` blank nodes or ``seconds`` (default ``CANON_SECONDS``) of work.
    """
    deadline = time.monotonic() + (CANON_SECONDS if seconds is None else seconds)
    try:
        _refuse_dropped_terms(document)
        dataset = jsonld.to_rdf(copy.deepcopy(dict(document)), {"documentLoader": _loader,
                                                                 "produceGeneralizedRdf": False})
        if _blank_nodes(dataset) > MAX_BLANK_NODES:
            raise ProofInvalid("too_costly", f"the document has more than {MAX_BLANK_NODES} blank nodes")
        text: str = _BoundedURDNA2015(deadline).main(dataset, {"format": "application/n-quads"})
    except _TooCostly:
        raise ProofInvalid("too_costly", "the document is too costly to canonicalise") from None
    except jsonld.JsonLdError as err:
        raise ProofInvalid("malformed", f"not valid JSON-LD with our contexts: {str(err)[:200]}") from None
    except (RecursionError, TypeError, ValueError, KeyError, AttributeError, IndexError):  # hostile shapes
        raise ProofInvalid("malformed", "not valid JSON-LD") from None
    return text


def _refuse_dropped_terms(document: Mapping[str, Any]) -> None:
    expanded = jsonld.expand(copy.deepcopy(dict(document)), {"documentLoader": _loader})
    compact_keys = _count_keys(document)
    expanded_keys = _count_keys(expanded)
    if expanded_keys < compact_keys:
        raise jsonld.JsonLdError("a property is not defined by the document's contexts", "jsonld.SafeMode")


def _count_keys(value: Any) -> int:
    """Properties that carry data (not @context), to see whether expansion dropped one."""
    if isinstance(value, list):
        return sum(_count_keys(v) for v in value)
    if isinstance(value, dict):
        if "@value" in value or "@json" in str(value.get("@type", "")):
            return 0
        return sum(0 if k in ("@context", "@id", "id", "@type", "type") else 1 + _count_keys(v)
                   for k, v in value.items())
    return 0


def _hash_data(document: Mapping[str, Any], options: Mapping[str, Any]) -> bytes:
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config = dict(options)
    config["@context"] = document.get("@context")
    config.pop("proofValue", None)
    return hashlib.sha256(canonize(config).encode()).digest() + hashlib.sha256(canonize(unsecured).encode()).digest()


def _utc(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def add_proof(document: Mapping[str, Any], private_key: Ed25519PrivateKey, *, verification_method: str,
              created: dt.datetime) -> dict[str, Any]:
    """A copy of ``document`` with an embedded DataIntegrityProof (eddsa-rdfc-2022, assertionMethod)."""
    options = {"type": "DataIntegrityProof", "cryptosuite": CRYPTOSUITE, "created": _utc(created),
               "verificationMethod": verification_method, "proofPurpose": "assertionMethod"}
    signature = private_key.sign(_hash_data(document, options))
    signed = {k: v for k, v in document.items() if k != "proof"}
    signed["proof"] = {**options, "proofValue": "z" + base58btc_encode(signature)}
    return signed


def verify_proof(document: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> str:
    """Check the document's eddsa-rdfc-2022 proof against ``keys`` (verification method id -> key).

    Returns the verification method id; raises ProofInvalid with reason malformed, unknown_key or
    bad_signature (any change of a signed statement: altered, or not signed by that key).
    """
    proof = document.get("proof")
    if not isinstance(proof, dict):
        raise ProofInvalid("malformed", "the credential has no single embedded proof")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofInvalid("malformed", f"only DataIntegrityProof with {CRYPTOSUITE} is accepted")
    if proof.get("proofPurpose") != "assertionMethod":
        raise ProofInvalid("malformed", "the proof purpose must be assertionMethod")
    method, value = proof.get("verificationMethod"), proof.get("proofValue")
    if not isinstance(method, str) or not isinstance(value, str) or not value.startswith("z"):
        raise ProofInvalid("malformed", "the proof lacks a verification method or a multibase proof value")
    key = keys.get(method)
    if key is None:
        raise ProofInvalid("unknown_key", f"signed with {method[:120]!r}, which is not one of our keys")
    try:
        signature = base58btc_decode(value[1:])
    except ValueError:
        raise ProofInvalid("malformed", "the proof value is not base58btc") from None
    if len(signature) != 64:
        raise ProofInvalid("malformed", "an Ed25519 signature is 64 bytes")
    try:
        key.verify(signature, _hash_data(document, proof))
    except InvalidSignature:
        raise ProofInvalid("bad_signature", "the credential was altered or not signed by this key") from None
    return method
