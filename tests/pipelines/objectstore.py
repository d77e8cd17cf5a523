"""A test-only Beam filesystem that behaves like an object store (gs://, s3://): ``objstore://<local path>``.

It has no directories (a "directory" is a key prefix), renames by copy + delete, and returns plain binary streams,
so the pipeline's non-local code paths run here without a cloud account. Defining the class registers the scheme
with Beam's ``FileSystems``.
"""

from __future__ import annotations

import io
import os
import shutil

from apache_beam.io.filesystem import BeamIOError, CompressedFile, CompressionTypes, FileMetadata, FileSystem

SCHEME = "objstore"
PREFIX = f"{SCHEME}://"


def to_url(local_path: str | os.PathLike) -> str:
    return PREFIX + os.path.abspath(local_path)


def _local(url: str) -> str:
    if not url.startswith(PREFIX):
        raise ValueError(f"not an {SCHEME} URL: {url}")
    return url[len(PREFIX) :]


class ObjectStoreFileSystem(FileSystem):
    @classmethod
    def scheme(cls):
        return SCHEME

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path):
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def mkdirs(self, path):
        pass  # no directories in an object store

    def has_dirs(self):
        return False

    def _list(self, dir_or_prefix):
        prefix = _local(dir_or_prefix)
        root = prefix if os.path.isdir(prefix) else os.path.dirname(prefix)
        for dirpath, _, files in os.walk(root):
            for name in files:
                full = os.path.join(dirpath, name)
                if full.startswith(prefix):
                    yield FileMetadata(PREFIX + full, os.path.getsize(full), os.path.getmtime(full))

    def _wrap(self, raw, path, compression_type):
        compression_type = FileSystem._get_compression_type(path, compression_type)
        if compression_type == CompressionTypes.UNCOMPRESSED:
            return raw
        return CompressedFile(raw, compression_type=compression_type)

    def create(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        local = _local(path)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        return self._wrap(open(local, "wb"), path, compression_type)

    def open(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        # A buffered stream, not a real file: readers must not rely on memory maps or file descriptors.
        return self._wrap(io.BufferedReader(io.FileIO(_local(path), "rb")), path, compression_type)

    def copy(self, source_file_names, destination_file_names):
        for s, d in zip(source_file_names, destination_file_names, strict=True):
            os.makedirs(os.path.dirname(_local(d)), exist_ok=True)
            shutil.copyfile(_local(s), _local(d))

    def rename(self, source_file_names, destination_file_names):
        # Like GCS: copy, then delete.
        self.copy(source_file_names, destination_file_names)
        self.delete(source_file_names)

    def exists(self, path):
        local = _local(path)
        return os.path.isfile(local) or (os.path.isdir(local) and any(os.scandir(local)))

    def size(self, path):
        return os.path.getsize(_local(path))

    def last_updated(self, path):
        return os.path.getmtime(_local(path))

    def checksum(self, path):
        return str(os.path.getsize(_local(path)))

    def metadata(self, path):
        local = _local(path)
        return FileMetadata(path, os.path.getsize(local), os.path.getmtime(local))

    def delete(self, paths):
        errors = {}
        for p in paths:
            local = _local(p)
            if os.path.isdir(local):
                shutil.rmtree(local)  # a prefix: every object under it
            elif os.path.exists(local):
                os.remove(local)
            else:
                errors[p] = FileNotFoundError(p)
        if errors:
            raise BeamIOError("Delete operation failed", errors)
