"""Client countries, as CDNs log them (ISO 3166 alpha-2 codes, or country names), to the
regions of the spec's ``geographic_distribution`` (europe, north_america, asia, ...)."""

from __future__ import annotations

from functools import lru_cache

import pycountry_convert

UNKNOWN = "unknown"
_CONTINENTS = {"EU": "europe", "NA": "north_america", "SA": "south_america", "AS": "asia",
               "AF": "africa", "OC": "oceania", "AN": "antarctica"}


@lru_cache(maxsize=512)
def region_of(country: str) -> str:
    country = country.strip()
    if not country or country.lower() in {UNKNOWN, "xx", "t1"}:  # Cloudflare: XX, T1 (Tor)
        return UNKNOWN
    try:
        code = country.upper() if len(country) == 2 else \
            pycountry_convert.country_name_to_country_alpha2(country)
        return _CONTINENTS.get(pycountry_convert.country_alpha2_to_continent_code(code),
                               UNKNOWN)
    except KeyError:
        return UNKNOWN
