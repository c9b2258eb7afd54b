#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Inspect the test guest's disk image (see tests/guest/README.md).

  guestdisk.py init IMAGE [--size-mib 4]   a zeroed image with an empty lease
  guestdisk.py show IMAGE                  the lease block, as JSON
  guestdisk.py check IMAGE                 verify the journal; exit 1 if two
                                           generations interleaved

Exit status: 0 fine, 1 the journal shows an interleaving, 2 the image or the
lease cannot be read (or bad usage).

As a module (tests/integration):

  import guestdisk
  guestdisk.init_image(path, size_mib=4)
  lease = guestdisk.read_lease(path)      # dict; raises GuestDiskError
  summary = guestdisk.check_journal(path) # dict; summary["ok"] is the verdict

The layout is defined in guest-disk.c; change both together.
"""

import argparse
import json
import os
import struct
import sys
import zlib

SECTOR_SIZE = 512
HOST_FIELD = 64
LEASE_MAGIC = b"CLDGUEST"
LEASE_VERSION = 1
RECORD_MAGIC = b"CLDJOURN"

# magic, generation, host, ticks, next_seq, boot_id, version, journal_sectors; crc32 of these 112 bytes follows.
LEASE = struct.Struct("<8sQ64sQQQII")
# magic, generation, host, seq, tick, boot_id, lease_generation; crc32 of these 112 bytes follows.
RECORD = struct.Struct("<8sQ64sQQQQ")
CRC = struct.Struct("<I")

# Violations listed in full; beyond this only their number.
MAX_REPORTED = 20


class GuestDiskError(Exception):
    """The image cannot be read, or holds no valid lease."""


def _host(field):
    return field.split(b"\0", 1)[0].decode("utf-8", "replace")


def _sectors(path):
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise GuestDiskError(f"{path}: {e.strerror}") from e
    if size < 2 * SECTOR_SIZE:
        raise GuestDiskError(f"{path}: {size} bytes is too small for a lease and a journal")
    return size // SECTOR_SIZE


def encode_lease(generation=0, host="", ticks=0, next_seq=0, boot_id=0, journal_sectors=0):
    """Returns the 512-byte lease sector for these fields."""
    body = LEASE.pack(LEASE_MAGIC, generation, host.encode()[: HOST_FIELD - 1], ticks, next_seq, boot_id,
                      LEASE_VERSION, journal_sectors)
    return (body + CRC.pack(zlib.crc32(body))).ljust(SECTOR_SIZE, b"\0")


def init_image(path, size_mib=4):
    """Creates (or overwrites) a zeroed raw image holding an empty lease (generation 0)."""
    if size_mib < 1:
        raise GuestDiskError(f"{path}: size must be at least 1 MiB")
    sectors = size_mib * 1024 * 1024 // SECTOR_SIZE
    with open(path, "wb") as f:
        f.truncate(sectors * SECTOR_SIZE)
        f.write(encode_lease(journal_sectors=sectors - 1))


def decode_lease(sector):
    """Returns the lease in a 512-byte sector as a dict; raises GuestDiskError if it is not one."""
    body = sector[: LEASE.size]
    magic, generation, host, ticks, next_seq, boot_id, version, journal_sectors = LEASE.unpack(body)
    if magic != LEASE_MAGIC:
        raise GuestDiskError("no lease block (magic missing)")
    (crc,) = CRC.unpack_from(sector, LEASE.size)
    if crc != zlib.crc32(body):
        raise GuestDiskError("lease block checksum mismatch")
    return {
        "generation": generation,
        "host": _host(host),
        "ticks": ticks,
        "next_seq": next_seq,
        "boot_id": f"{boot_id:016x}",
        "version": version,
        "journal_sectors": journal_sectors,
    }


def read_lease(path):
    """Returns the lease block of the image at path as a dict (see decode_lease)."""
    _sectors(path)
    with open(path, "rb") as f:
        sector = f.read(SECTOR_SIZE)
    try:
        return decode_lease(sector)
    except GuestDiskError as e:
        raise GuestDiskError(f"{path}: {e}") from None


def _journal_size(path, lease):
    """The ring size, as the guest computes it: the lease's value within the disk, else the whole disk."""
    available = _sectors(path) - 1
    n = lease["journal_sectors"] if lease else 0
    return n if 0 < n < available else available


def read_journal(path):
    """Returns (records sorted by seq, problems): every valid record, and the sectors that are not."""
    try:
        lease = read_lease(path)
    except GuestDiskError:
        lease = None  # a guest with a blank disk still writes its journal over the whole disk
    n = _journal_size(path, lease)
    records, problems = [], []
    with open(path, "rb") as f:
        f.seek(SECTOR_SIZE)
        for slot in range(n):
            sector = f.read(SECTOR_SIZE)
            if len(sector) < SECTOR_SIZE:
                break
            if sector[:8] != RECORD_MAGIC:
                continue  # never written
            body = sector[: RECORD.size]
            _, generation, host, seq, tick, boot_id, lease_generation = RECORD.unpack(body)
            (crc,) = CRC.unpack_from(sector, RECORD.size)
            if crc != zlib.crc32(body):
                problems.append(f"sector {slot + 1}: record checksum mismatch")
                continue
            if seq % n != slot:
                problems.append(f"sector {slot + 1}: record seq {seq} belongs in sector {seq % n + 1}")
                continue
            records.append({"seq": seq, "generation": generation, "host": _host(host), "tick": tick,
                            "boot_id": f"{boot_id:016x}", "lease_generation": lease_generation})
    records.sort(key=lambda r: r["seq"])
    return records, problems


def _who(rec):
    return f"generation {rec['generation']} (host {rec['host']!r})"


def check_journal(path):
    """Checks that generations wrote the journal one after the other.

    Once generation g+1 has written, no copy running as g writes again. The
    journal shows a breach three ways: in write order (seq) a generation
    goes down; a record's writer found another generation in the lease just
    before writing it (the guest's LEASE LOST); or one generation was written
    by two boots (two copies that took the lease at the same moment).

    Returns a summary dict; "ok" is False and "violations" names what
    interleaved when any check fails. Raises GuestDiskError if the image
    cannot be read.
    """
    records, problems = read_journal(path)
    violations = list(problems)
    gens = {}
    newest = None  # the first record of the highest generation so far
    for rec in records:
        g = gens.setdefault(rec["generation"], {"generation": rec["generation"], "hosts": [], "boot_ids": [],
                                                "records": 0, "first_seq": rec["seq"], "last_seq": rec["seq"]})
        g["records"] += 1
        g["last_seq"] = rec["seq"]
        if rec["host"] not in g["hosts"]:
            g["hosts"].append(rec["host"])
        if rec["boot_id"] not in g["boot_ids"]:
            g["boot_ids"].append(rec["boot_id"])
        if newest and rec["generation"] < newest["generation"]:
            violations.append(f"interleaving: {_who(rec)} wrote seq {rec['seq']} after {_who(newest)} "
                              f"had written seq {newest['seq']}")
        elif not newest or rec["generation"] > newest["generation"]:
            newest = rec
        if rec["lease_generation"] not in (0, rec["generation"]):
            violations.append(f"interleaving: {_who(rec)} wrote seq {rec['seq']} while the lease held "
                              f"generation {rec['lease_generation']}")
    for g in gens.values():
        if len(g["boot_ids"]) > 1:
            violations.append(f"interleaving: generation {g['generation']} was written by "
                              f"{len(g['boot_ids'])} boots (hosts {', '.join(g['hosts'])})")

    seqs = [r["seq"] for r in records]
    return {
        "ok": not violations,
        "records": len(records),
        "first_seq": seqs[0] if seqs else None,
        "last_seq": seqs[-1] if seqs else None,
        # Sequence numbers claimed in the lease but never written: a copy stopped between the two writes.
        "missing": (seqs[-1] - seqs[0] + 1 - len(seqs)) if seqs else 0,
        "generations": sorted(gens.values(), key=lambda g: g["generation"]),
        "violations": violations[:MAX_REPORTED],
        "violation_count": len(violations),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="Inspect the test guest's disk image.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="create a zeroed image with an empty lease")
    p.add_argument("image")
    p.add_argument("--size-mib", type=int, default=4)
    p = sub.add_parser("show", help="print the lease as JSON")
    p.add_argument("image")
    p = sub.add_parser("check", help="verify the journal; exit 1 if generations interleaved")
    p.add_argument("image")
    args = parser.parse_args(argv)

    try:
        if args.command == "init":
            init_image(args.image, args.size_mib)
        elif args.command == "show":
            print(json.dumps(read_lease(args.image), indent=2))
        else:
            summary = check_journal(args.image)
            print(json.dumps(summary, indent=2))
            if not summary["ok"]:
                for v in summary["violations"]:
                    print(f"guestdisk: {args.image}: {v}", file=sys.stderr)
                more = summary["violation_count"] - len(summary["violations"])
                if more > 0:
                    print(f"guestdisk: {args.image}: ... and {more} more", file=sys.stderr)
                return 1
    except GuestDiskError as e:
        print(f"guestdisk: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
