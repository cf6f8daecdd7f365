"""The graph's schema: node and edge tables, and which CSV column each Merchant property holds.

One place names every label and property: the build creates the tables from it, the parser's
templates use its property names, and the validator accepts only what it lists.
"""

from __future__ import annotations

from dataclasses import dataclass

MERCHANT_CSV = "jeju/shinhan_mct_202312_latest_with_text.csv"
ATTRACTION_CSV = "jeju/jeju_attractions_geocoded.csv"
REVIEW_GLOB = "jeju/tourism/review_sentiment/*.csv"  # VisitJeju review keywords (optional)
SCHEMA_VERSION = "3"  # bump when the tables change: a rebuild then replaces the old graph


@dataclass(frozen=True)
class Share:
    """A usage-share property of Merchant: the column it comes from and how to say it."""

    prop: str
    column: str
    label: str  # Korean, as reasons show it


SHARES: tuple[Share, ...] = (
    Share("mon", "월요일이용건수비중", "월요일 이용 비중"),
    Share("tue", "화요일이용건수비중", "화요일 이용 비중"),
    Share("wed", "수요일이용건수비중", "수요일 이용 비중"),
    Share("thu", "목요일이용건수비중", "목요일 이용 비중"),
    Share("fri", "금요일이용건수비중", "금요일 이용 비중"),
    Share("sat", "토요일이용건수비중", "토요일 이용 비중"),
    Share("sun", "일요일이용건수비중", "일요일 이용 비중"),
    Share("h05_11", "5시11시이용건수비중", "5시~11시 이용 비중"),
    Share("h12_13", "12시13시이용건수비중", "12시~13시 이용 비중"),
    Share("h14_17", "14시17시이용건수비중", "14시~17시 이용 비중"),
    Share("h18_22", "18시22시이용건수비중", "18시~22시 이용 비중"),
    Share("h23_04", "23시4시이용건수비중", "23시~4시 이용 비중"),
    Share("local_share", "현지인이용비중", "현지인 이용 비중"),
    Share("male", "최근12개월남성회원수비중", "남성 회원 비중"),
    Share("female", "최근12개월여성회원수비중", "여성 회원 비중"),
    Share("age20", "20대이하고객수비중", "20대 이하 고객 비중"),
    Share("age30", "30대고객수비중", "30대 고객 비중"),
    Share("age40", "40대고객수비중", "40대 고객 비중"),
    Share("age50", "50대고객수비중", "50대 고객 비중"),
    Share("age60", "60대이상고객수비중", "60대 이상 고객 비중"),
)
SHARE_BY_PROP = {share.prop: share for share in SHARES}

# Usage bands: the CSV's "1_상위 10% 이하" … "6_90% 초과(하위 10% 이하)" stored as the rank 1…6.
BANDS = {"cnt_band": "이용건수", "amt_band": "이용금액", "avg_amt_band": "건당평균이용금액"}
BAND_UPPER_PERCENT = (10, 25, 50, 75, 90, 100)  # band r holds the top BAND_UPPER_PERCENT[r-1]%

MERCHANT_PROPS: dict[str, str] = {
    "id": "INT64", "name": "STRING", "category": "STRING", "opened": "DATE",
    "address": "STRING", "city": "STRING", "dong": "STRING", "district": "STRING",
    **{band: "INT64" for band in BANDS}, **{share.prop: "DOUBLE" for share in SHARES},
    "text": "STRING",
    "keywords": "STRING",  # review keywords (comma-joined) where the reviews name the merchant
}
NODES: dict[str, dict[str, str]] = {
    "Merchant": MERCHANT_PROPS,
    "District": {"name": "STRING", "city": "STRING", "dong": "STRING"},
    "Category": {"name": "STRING", "merchants": "INT64"},
    "Attraction": {"name": "STRING", "address": "STRING", "district": "STRING",
                   "lat": "DOUBLE", "lng": "DOUBLE"},
    "Meta": {"key": "STRING", "value": "STRING"},
}
PRIMARY_KEYS = {"Merchant": "id", "District": "name", "Category": "name", "Attraction": "name",
                "Meta": "key"}
# Edge table → (from, to, properties).
EDGES: dict[str, tuple[str, str, dict[str, str]]] = {
    "IN_DISTRICT": ("Merchant", "District", {}),
    "OF_CATEGORY": ("Merchant", "Category", {}),
    # An attraction NEAR the district its address places it in; distance_km from its
    # coordinates to the district's centre (mean of its geocoded attractions), null without.
    "NEAR": ("Attraction", "District", {"distance_km": "DOUBLE"}),
    # Every geocoded attraction to every district with a centre: km from the attraction to the
    # centre (merchants have no coordinates of their own), for "성산일출봉 근처 …" questions.
    "DISTANCE_TO": ("Attraction", "District", {"km": "DOUBLE"}),
}
LABELS = frozenset(NODES) | frozenset(EDGES)
PROPERTIES = frozenset(p for props in NODES.values() for p in props) | frozenset(
    p for _, _, props in EDGES.values() for p in props)


def ddl() -> list[str]:
    """The statements that create every table."""
    statements = []
    for label, props in NODES.items():
        columns = ", ".join(f"{name} {kind}" for name, kind in props.items())
        statements.append(f"CREATE NODE TABLE {label}({columns}, "
                          f"PRIMARY KEY({PRIMARY_KEYS[label]}))")
    for label, (source, target, props) in EDGES.items():
        extra = "".join(f", {name} {kind}" for name, kind in props.items())
        statements.append(f"CREATE REL TABLE {label}(FROM {source} TO {target}{extra})")
    return statements
