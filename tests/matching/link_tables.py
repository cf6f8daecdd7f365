"""Writing the CSV tables `recstack match link` reads, from Geo-ER records (test helper)."""

from __future__ import annotations

import csv


def write_table(path, prefix, records):
    """``records`` as an id,name,lat,lon,address CSV with ids ``<prefix><row>``; returns path."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "lat", "lon", "address"])
        for i, r in enumerate(records):
            writer.writerow([f"{prefix}{i}", r.name, "" if r.lat is None else r.lat,
                             "" if r.lon is None else r.lon, r.address])
    return path
