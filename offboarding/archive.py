"""The practice archive: one zip file with `manifest.json` (format and version, the practice,
its schema's migration state, and every member file's row count and SHA-256), `manifest.sig` (an
HMAC of the manifest with this installation's secret key) and the members: `tenant/<table>.csv`
(each table of the practice's schema, PostgreSQL's COPY CSV with a header) and
`shared/<app>.<model>.json` (the public rows that name the practice, Django's JSON serialisation).

Opening an archive checks everything before anything reads it: every member listed with its
checksum, nothing extra, the signature, and the format version."""

from __future__ import annotations

import hashlib
import hmac
import json
import zipfile
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError

FORMAT = "dentaltap-practice-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
_SIGNING_SALT = "dentaltap.offboarding.archive"


class ArchiveError(ApplicationError):
    code = "archive_invalid"


def _signature(manifest: bytes, secret: str | None = None) -> str:
    return salted_hmac(_SIGNING_SALT, manifest, secret=secret, algorithm="sha256").hexdigest()


def _signature_valid(manifest: bytes, signature: str) -> bool:
    """Signed with the secret key, or one it replaced (SECRET_KEY_FALLBACKS): an archive made
    before a key rotation still restores."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(hmac.compare_digest(signature, _signature(manifest, secret)) for secret in secrets)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ArchiveWriter:
    """Members first, the manifest last (it lists them)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED)
        self.files: dict[str, dict[str, Any]] = {}

    def add(self, name: str, data: bytes, *, rows: int, **extra: Any) -> None:
        self._zip.writestr(name, data)
        self.files[name] = {"rows": rows, "bytes": len(data), "sha256": sha256_of(data), **extra}

    def close(self, manifest: dict[str, Any]) -> dict[str, Any]:
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest, "files": self.files}
        data = json.dumps(manifest, indent=2, sort_keys=True, cls=DjangoJSONEncoder).encode()
        self._zip.writestr(MANIFEST, data)
        self._zip.writestr(SIGNATURE, _signature(data))
        self._zip.close()
        return manifest


@dataclass
class Archive:
    manifest: dict[str, Any]
    zip: zipfile.ZipFile

    def read(self, name: str) -> bytes:
        return self.zip.read(name)

    def json(self, name: str) -> list[dict[str, Any]]:
        if name not in self.manifest["files"]:
            return []
        return list(json.loads(self.read(name)))

    def objects(self, name: str) -> list[Any]:
        """The model instances of a shared member (unsaved, values typed as the fields say);
        fields this code no longer has are left out."""
        if name not in self.manifest["files"]:
            return []
        return [item.object for item in serializers.deserialize("json", self.read(name), ignorenonexistent=True)]

    def members(self, prefix: str) -> list[str]:
        return sorted(name for name in self.manifest["files"] if name.startswith(prefix))


def archive_open(source: IO[bytes]) -> Archive:
    """The archive, checked; ArchiveError saying what is wrong otherwise."""
    try:
        archive = zipfile.ZipFile(source)
        names = set(archive.namelist())
        if MANIFEST not in names or SIGNATURE not in names:
            raise ArchiveError(_("This is not a practice archive: it has no manifest."))
        raw = archive.read(MANIFEST)
        manifest = json.loads(raw)
        files: dict[str, dict[str, Any]] = manifest.get("files") or {}
        if manifest.get("format") != FORMAT:
            raise ArchiveError(_("This is not a practice archive: its manifest names another format."))
        for name, meta in sorted(files.items()):
            if name not in names:
                raise ArchiveError(_("The archive is incomplete: %(name)s is missing.") % {"name": name})
            if sha256_of(archive.read(name)) != meta.get("sha256"):
                raise ArchiveError(
                    _("The checksum of %(name)s fails: the archive is damaged or was changed.") % {"name": name}
                )
        unlisted = sorted(names - set(files) - {MANIFEST, SIGNATURE})
        if unlisted:
            raise ArchiveError(
                _("The archive holds files its manifest does not list: %(names)s.") % {"names": ", ".join(unlisted)}
            )
        if not _signature_valid(raw, archive.read(SIGNATURE).decode("ascii", "replace")):
            raise ArchiveError(
                _("The archive's signature does not match: it was changed, or made by another installation.")
            )
    except (zipfile.BadZipFile, ValueError, KeyError, AttributeError) as error:
        raise ArchiveError(_("This is not a practice archive: %(error)s") % {"error": error}) from error
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArchiveError(
            _("The archive's format version %(found)s is not the one this code reads (%(expected)s).")
            % {"found": manifest.get("format_version"), "expected": FORMAT_VERSION}
        )
    return Archive(manifest=manifest, zip=archive)
