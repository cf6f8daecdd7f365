"""Deterministic synthetic click logs of a Korean travel shop, with real sequential structure.

``generate_travel(TravelConfig(...))`` needs no external data, so ``make demo``, tests and
notebooks can train sequential recommenders and item embeddings on a fresh machine. The
generative story, in order (see ``docs/synthetic_travel.md``):

1. Destinations: countries popular with Korean travellers, each with up to six cities (Osaka,
   Tokyo, Da Nang, Bangkok, Paris, ...). City popularity is Zipf-like in table order; some cities
   peak in summer or winter, and ``n_trending_cities`` grow in popularity over the window (drift).
2. Products belong to one city and one category (flight, hotel, tour, activity, restaurant,
   transfer, package), have a price tier and a price in KRW, and a Zipf popularity within their
   city and category.
3. Users prefer one region, have idiosyncratic country affinities and a price level.
4. Sessions: a user's sessions either continue the current trip (same country, hours later) or
   start a new one (a fresh destination drawn from affinity x city popularity x season x trend,
   days to weeks later). Sessions never overlap and are separated by at least ``session_gap``;
   clicks inside a session are closer than that, so re-sessionising with the gap recovers them.
5. Clicks: a Markov chain over categories (flight -> hotel -> tour/activity/restaurant ->
   transfer) picks the next category; the product comes from the current city and category,
   weighted by popularity and by how well its price tier fits the user. A few clicks jump to
   another city, go back to a product seen earlier in the session, or are noise.

All randomness comes from ``numpy.random.default_rng(config.seed)``: a seed gives identical frames.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recstack.data.dataset import Interactions
from recstack.errors import ConfigError

# Country -> (region, cities). Order is rank of popularity with Korean travellers; the first
# ``n_countries`` countries and first ``cities_per_country`` cities of each are used.
_TABLE = """Japan|Japan|Osaka, Tokyo, Fukuoka, Sapporo, Okinawa, Kyoto
Vietnam|Southeast Asia|Da Nang, Nha Trang, Phu Quoc, Hanoi, Ho Chi Minh City, Dalat
Thailand|Southeast Asia|Bangkok, Phuket, Chiang Mai, Pattaya, Krabi, Koh Samui
Korea|Korea|Jeju, Busan, Gangneung, Gyeongju, Yeosu, Sokcho
Philippines|Southeast Asia|Cebu, Boracay, Bohol, Manila, Palawan, Clark
Taiwan|Greater China|Taipei, Kaohsiung, Taichung, Tainan, Hualien, Kenting
China|Greater China|Shanghai, Qingdao, Beijing, Zhangjiajie, Dalian, Harbin
United States|Americas & Pacific|Guam, Honolulu, Los Angeles, New York, Las Vegas, San Francisco
France|Europe|Paris, Nice, Lyon, Strasbourg, Marseille, Bordeaux
Italy|Europe|Rome, Florence, Venice, Milan, Amalfi, Naples
Spain|Europe|Barcelona, Madrid, Seville, Granada, Malaga, Valencia
Switzerland|Europe|Interlaken, Zurich, Lucerne, Zermatt, Grindelwald, Geneva
Indonesia|Southeast Asia|Bali, Lombok, Jakarta, Yogyakarta, Bintan, Labuan Bajo
Malaysia|Southeast Asia|Kota Kinabalu, Kuala Lumpur, Langkawi, Penang, Malacca, Johor Bahru
Australia|Oceania|Sydney, Melbourne, Gold Coast, Cairns, Brisbane, Perth
United Kingdom|Europe|London, Edinburgh, Oxford, Bath, Manchester, Liverpool
Canada|Americas & Pacific|Vancouver, Toronto, Banff, Montreal, Quebec City, Victoria
Turkey|Europe|Istanbul, Cappadocia, Antalya, Izmir, Pamukkale, Bodrum"""
DESTINATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    country: (region, tuple(cities.split(", ")))
    for country, region, cities in (line.split("|") for line in _TABLE.splitlines())}
# +1 peaks mid-July (beaches, European summer), -1 mid-January (snow, southern summer).
SEASON = {**dict.fromkeys(("Okinawa", "Nha Trang", "Jeju", "Gangneung", "Sokcho", "Guam",
                           "Honolulu", "Nice", "Amalfi", "Barcelona", "Venice", "Interlaken",
                           "Edinburgh", "Vancouver", "Banff", "Antalya", "Bodrum"), 1),
          **dict.fromkeys(("Sapporo", "Harbin", "Chiang Mai", "Zermatt", "Grindelwald", "Sydney",
                           "Melbourne", "Gold Coast", "Cairns", "Cappadocia"), -1)}
CATEGORIES = ("flight", "hotel", "tour", "activity", "restaurant", "transfer", "package")
# Rows: current category, columns: next category (order of CATEGORIES). The funnel goes
# flight -> hotel -> things to do -> transfer, with self-loops for comparing offers.
_TRANSITIONS = np.array([
    [.30, .40, .07, .06, .02, .08, .07],
    [.06, .38, .17, .16, .08, .12, .03],
    [.02, .08, .32, .30, .14, .12, .02],
    [.02, .07, .28, .34, .16, .11, .02],
    [.01, .05, .20, .24, .40, .08, .02],
    [.04, .16, .20, .20, .10, .28, .02],
    [.10, .22, .10, .08, .03, .05, .42],
])
_START = np.array([.34, .26, .10, .10, .04, .04, .12])  # first click of a session
_CATALOG_SHARE = np.array([.06, .28, .16, .20, .12, .08, .10])  # share of products per category
_BASE_PRICE = np.array([300e3, 150e3, 80e3, 50e3, 40e3, 30e3, 900e3])  # KRW, Japan mid-tier
_REGION_PRICE = {"Japan": (1.0, 1.2), "Southeast Asia": (1.3, 0.6), "Korea": (0.3, 0.9),
                 "Greater China": (1.0, 0.8), "Americas & Pacific": (3.0, 1.5),
                 "Europe": (4.0, 1.6), "Oceania": (3.5, 1.4)}  # (airfare, local cost) multiplier
TIERS = ("budget", "mid", "luxury")
_TIER_SHARE, _TIER_PRICE = np.array([.35, .45, .20]), np.array([0.6, 1.0, 2.2])
# Rows: user price level, columns: product tier; how much more a user clicks a fitting tier.
_TIER_FIT = np.array([[1.0, .35, .08], [.45, 1.0, .45], [.10, .40, 1.0]])
_REGION_BOOST = 6.0  # affinity multiplier of the user's preferred region
_REPEAT_BOOST = 4.0  # a continuing session favours the trip's city over its neighbours
_SAME_COUNTRY_JUMP = 0.7  # a city jump stays in the country (Osaka -> Kyoto) this often
_DWELL_MEDIAN_S, _CONTINUE_GAP_MEDIAN_S = 45.0, 5 * 3600.0  # lognormal medians, sigma 1
_SUMMER_PEAK_DOY = 196  # mid-July
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TravelConfig:
    """Knobs of the generator; invalid values raise ``ConfigError`` naming the field."""

    n_users: int = 2000  # enough evaluated users for stable demo metrics, still instant
    n_products: int = 600  # a mid-size shop; needs >= cities x categories (one product each)
    n_countries: int = 10  # at most 18; the first are the busiest destinations
    cities_per_country: int = 3  # at most 6; the busiest cities of each country
    categories: tuple[str, ...] = CATEGORIES  # any subset of CATEGORIES, funnel renormalised
    mean_sessions_per_user: float = 4.0  # geometric: most users come back a few times
    mean_session_length: float = 6.0  # geometric clicks per session, as in shop logs
    max_session_length: int = 40  # caps the geometric tail (and the simulation loop)
    start_date: str = "2024-01-01"  # ISO date; UTC midnight is the earliest timestamp
    days: int = 180  # half a year: long enough for seasonality and trends to show
    seed: int = 0  # the only source of randomness
    popularity_skew: float = 1.0  # Zipf exponent of product and country rank (half for cities)
    noise_share: float = 0.05  # clicks on a random popular product (banners, mis-clicks)
    revisit_share: float = 0.08  # clicks back on a product seen earlier in the session
    city_jump_prob: float = 0.04  # per click: switch city mid-session (multi-city trips)
    continue_prob: float = 0.6  # a later session continues the current trip (same country)
    session_gap_minutes: int = 30  # minimum silence between sessions, the usual sessioniser
    mean_trip_gap_days: float = 21.0  # mean extra gap before a session that starts a new trip
    trend_strength: float = 3.0  # popularity multiplier of trending cities at the end (<1 fades)
    n_trending_cities: int = 2  # cities drawn by seed whose popularity drifts over the window
    seasonality: float = 0.5  # log-amplitude of seasonal cities' summer or winter peak

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def n_cities(self) -> int:
        """Number of destination cities the config selects."""
        return self.n_countries * self.cities_per_country


# Field -> (integer?, lowest, highest); None = unbounded. Cross-field rules are in _validate.
_BOUNDS: dict[str, tuple[bool, float, float | None]] = {
    "n_users": (True, 1, None), "n_products": (True, 1, None),
    "n_countries": (True, 1, len(DESTINATIONS)), "cities_per_country": (True, 1, 6),
    "mean_sessions_per_user": (False, 1, None), "mean_session_length": (False, 1, None),
    "max_session_length": (True, 1, None), "days": (True, 1, None), "seed": (True, 0, None),
    "popularity_skew": (False, 0, None), "noise_share": (False, 0, 0.9),
    "revisit_share": (False, 0, 0.9), "city_jump_prob": (False, 0, 1),
    "continue_prob": (False, 0, 1), "session_gap_minutes": (True, 1, None),
    "mean_trip_gap_days": (False, 0.01, None), "trend_strength": (False, 0.01, None),
    "n_trending_cities": (True, 0, None), "seasonality": (False, 0, None),
}


def _check(ok: bool, name: str, value: Any, requirement: str, fix: str | None = None) -> None:
    if not ok:
        raise ConfigError(f"must be {requirement}, got {value!r}", field=name,
                          fix=fix or f"set {name} to {requirement}")


def _validate(cfg: TravelConfig) -> None:
    for name, (integer, low, high) in _BOUNDS.items():
        value = getattr(cfg, name)
        kind = (int,) if integer else (int, float)
        ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
        requirement = (f"{'an integer' if integer else 'a number'} >= {low}"
                       + (f" and <= {high}" if high is not None else ""))
        _check(ok and value >= low and (high is None or value <= high), name, value, requirement)
    cats = cfg.categories
    _check(isinstance(cats, tuple) and len(cats) > 0 and len(set(cats)) == len(cats)
           and set(cats) <= set(CATEGORIES), "categories", cats,
           f"a non-empty tuple of distinct names from {CATEGORIES}")
    need = cfg.n_cities * len(cats)
    _check(cfg.n_products >= need, "n_products", cfg.n_products,
           f">= {need}, one per city and category",
           f"set n_products >= {need} or lower n_countries, cities_per_country or categories")
    _check(cfg.n_trending_cities <= cfg.n_cities, "n_trending_cities", cfg.n_trending_cities,
           f"<= the number of cities ({cfg.n_cities})")
    _check(cfg.noise_share + cfg.revisit_share <= 0.9, "revisit_share", cfg.revisit_share,
           "small enough that noise_share + revisit_share <= 0.9")
    try:
        date.fromisoformat(cfg.start_date)
    except (TypeError, ValueError):
        _check(False, "start_date", cfg.start_date, "an ISO date string such as '2024-01-01'")


@dataclass(frozen=True)
class TravelData:
    """Generated frames; ids are strings, events sorted by user then time.

    Attributes:
        users: ``user_id``, ``preferred_region``, ``favourite_country``, ``price_level``.
        products: ``item_id``, ``name``, ``country``, ``city``, ``region``, ``category``,
            ``price_tier``, ``price`` (int64 KRW).
        events: ``user_id``, ``item_id``, ``timestamp`` (int64 epoch seconds, UTC),
            ``session_id`` (int64, increasing in time within a user).
        cities: ``city``, ``country``, ``region``, ``popularity``, ``season``, ``trending``
            (the ground truth behind destination choice and drift).
    """

    users: pd.DataFrame
    products: pd.DataFrame
    events: pd.DataFrame
    cities: pd.DataFrame | None = None

    def to_interactions(self, name: str = "travel") -> Interactions:
        """The events plus product metadata as an ``Interactions`` (session_id kept)."""
        return Interactions(name=name, events=self.events.copy(), items=self.products.copy())

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``events.parquet``, ``products.csv``, ``users.csv`` and ``cities.csv``.

        Args:
            directory: created if missing; existing files of those names are replaced.

        Returns:
            The written paths by name: ``events``, ``products``, ``users``, ``cities``.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"events": out / "events.parquet"}
        self.events.to_parquet(paths["events"], index=False)
        for name, frame in (("products", self.products), ("users", self.users),
                            ("cities", self.cities)):
            if frame is not None:
                paths[name] = out / f"{name}.csv"
                frame.to_csv(paths[name], index=False)
        return paths


def _cdf_keys(groups: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``group + cumulative share within group`` for rows sorted by group.

    Sampling row ``searchsorted(keys, group + u, "right")`` with ``u ~ U[0, 1)`` draws from the
    group's weights for many groups in one vectorised call.
    """
    cum = np.cumsum(weights)
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    ends = np.r_[starts[1:], len(groups)]
    before = np.r_[0.0, cum][starts]
    total = cum[ends - 1] - before
    sizes = ends - starts
    keys = (cum - np.repeat(before, sizes)) / np.repeat(total, sizes)
    keys[ends - 1] = 1.0  # exact upper edge so that u < 1 never falls into the next group
    return groups + keys


def _draw(keys: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    idx = np.searchsorted(keys, groups + rng.random(len(groups)), side="right")
    return np.minimum(idx, len(keys) - 1)


def _draw_rows(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row of a non-negative weight matrix, proportional to the row."""
    cum = np.cumsum(weights, axis=1)
    u = (1.0 - rng.random(len(weights))) * cum[:, -1]  # in (0, total]: never a zero-weight column
    return np.minimum((cum < u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _build_cities(cfg: TravelConfig, rng: np.random.Generator) -> pd.DataFrame:
    rows = [(city, country, region, ci, ri)
            for ci, (country, (region, cities)) in enumerate(list(DESTINATIONS.items())[
                :cfg.n_countries])
            for ri, city in enumerate(cities[:cfg.cities_per_country])]
    cities = pd.DataFrame(rows, columns=["city", "country", "region", "country_rank", "rank"])
    # Zipf in table order; flatter inside a country (Osaka, Tokyo and Fukuoka are all busy).
    pop = ((cities["country_rank"] + 1.0) ** -cfg.popularity_skew
           * (cities["rank"] + 1.0) ** (-cfg.popularity_skew / 2)).to_numpy()
    cities["popularity"] = pop / pop.sum()
    sign = cities["city"].map(SEASON).fillna(0).astype(int)
    cities["season"] = sign.map({1: "summer", -1: "winter", 0: "none"})
    trending = rng.choice(len(cities), size=cfg.n_trending_cities, replace=False)
    cities["trending"] = np.isin(np.arange(len(cities)), trending)
    return cities.drop(columns=["country_rank", "rank"])


def _build_products(cfg: TravelConfig, cities: pd.DataFrame,
                    rng: np.random.Generator) -> pd.DataFrame:
    """Products in internal order (sorted by city, then category), ids shuffled."""
    cat_idx = np.array([CATEGORIES.index(c) for c in cfg.categories])
    n_city, n_cat = len(cities), len(cat_idx)
    city_w = np.sqrt(cities["popularity"].to_numpy())  # busy cities have more, not all, offers
    per_city = n_cat + rng.multinomial(cfg.n_products - n_city * n_cat, city_w / city_w.sum())
    share = _CATALOG_SHARE[cat_idx] / _CATALOG_SHARE[cat_idx].sum()
    counts = 1 + rng.multinomial(per_city - n_cat, share)  # (n_city, n_cat), >= 1 each
    group = np.repeat(np.arange(n_city * n_cat), counts.ravel())
    rank = np.arange(len(group)) - np.repeat(np.cumsum(counts.ravel()) - counts.ravel(),
                                             counts.ravel())
    city, cat = group // n_cat, cat_idx[group % n_cat]
    tier = rng.choice(3, size=len(group), p=_TIER_SHARE)
    region = cities["region"].to_numpy()[city]
    airfare = np.array([_REGION_PRICE[r][0] for r in region])
    local = np.array([_REGION_PRICE[r][1] for r in region])
    flown = np.isin(cat, [CATEGORIES.index("flight"), CATEGORIES.index("package")])
    price = (_BASE_PRICE[cat] * np.where(flown, airfare, local) * _TIER_PRICE[tier]
             * rng.lognormal(0.0, 0.25, len(group)))
    width = max(5, len(str(len(group))))
    names = cities["city"].to_numpy()[city]
    return pd.DataFrame({
        "item_id": [f"p{i:0{width}d}" for i in rng.permutation(len(group))],
        "name": [f"{c} {TIERS[t]} {CATEGORIES[k]} {r + 1}"
                 for c, t, k, r in zip(names, tier, cat, rank, strict=True)],
        "country": cities["country"].to_numpy()[city], "city": names, "region": region,
        "category": np.asarray(CATEGORIES, dtype=object)[cat],
        "price_tier": np.asarray(TIERS, dtype=object)[tier],
        "price": (np.round(price / 100) * 100).astype(np.int64),
        "_group": group, "_city": city, "_tier": tier,
        "_pop": (rank + 1.0) ** -cfg.popularity_skew,
    })


def _build_users(cfg: TravelConfig, cities: pd.DataFrame,
                 rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Users, their (n_users, n_countries) destination affinity and their price level."""
    by_country = cities.groupby("country", sort=False)
    country_pop = by_country["popularity"].sum().to_numpy()
    regions, region_of = np.unique(by_country["region"].first().to_numpy(), return_inverse=True)
    region_pop = np.bincount(region_of, country_pop)
    # Mix in a uniform share so that every region has its fans, not only Japan's.
    pref = rng.choice(len(regions), size=cfg.n_users,
                      p=0.7 * region_pop / region_pop.sum() + 0.3 / len(regions))
    level = rng.choice(3, size=cfg.n_users, p=_TIER_SHARE)
    affinity = country_pop * np.where(region_of == pref[:, None], _REGION_BOOST, 1.0)
    affinity *= rng.gamma(0.7, 1.0, affinity.shape)  # personal taste beyond the region
    width = max(5, len(str(cfg.n_users)))
    users = pd.DataFrame({
        "user_id": [f"u{i:0{width}d}" for i in range(cfg.n_users)],
        "preferred_region": regions[pref],
        "favourite_country": by_country.size().index.to_numpy()[affinity.argmax(axis=1)],
        "price_level": np.asarray(TIERS, dtype=object)[level],
    })
    return users, affinity, level


@dataclass(frozen=True)
class _Sessions:
    user: np.ndarray  # (S,) user index; sessions sorted by user, then time
    head: np.ndarray  # (S,) index of the session that started this session's trip
    length: np.ndarray  # (S,) clicks
    dwell: np.ndarray  # (S, L) seconds before each click; 0 for the first click and padding
    start: np.ndarray  # (S,) seconds from start_date to the session's first click


def _schedule_sessions(cfg: TravelConfig, rng: np.random.Generator) -> _Sessions:
    """Session counts, lengths, click times and start times that respect the gap rule."""
    n = rng.geometric(1.0 / cfg.mean_sessions_per_user, cfg.n_users)
    user = np.repeat(np.arange(cfg.n_users), n)
    first = np.cumsum(n) - n
    k = np.arange(len(user)) - first[user]
    fresh = (k == 0) | (rng.random(len(user)) >= cfg.continue_prob)
    head = np.maximum.accumulate(np.where(fresh, np.arange(len(user)), 0))
    length = np.minimum(rng.geometric(1.0 / cfg.mean_session_length, len(user)),
                        cfg.max_session_length)
    gap, period = cfg.session_gap_minutes * 60, cfg.days * 86400
    steps = np.arange(length.max())
    dwell = np.clip(rng.lognormal(math.log(_DWELL_MEDIAN_S), 1.0, (len(user), len(steps))),
                    3, gap - 1)  # always below the gap, so a session never splits
    dwell = np.where((steps > 0) & (steps < length[:, None]), np.floor(dwell), 0).astype(np.int64)
    duration = dwell.sum(axis=1)
    # Extra silence on top of the gap: hours when the trip continues, weeks for a new trip.
    extra = np.where(fresh, rng.exponential(cfg.mean_trip_gap_days * 86400, len(user)),
                     rng.lognormal(math.log(_CONTINUE_GAP_MEDIAN_S), 1.0, len(user)))
    extra[k == 0] = 0
    room = period - np.bincount(user, duration, cfg.n_users) - (n - 1) * gap
    # Squeeze the extra silence of very active users so that their sessions fit the window.
    scale = np.clip(room / np.maximum(np.bincount(user, extra, cfg.n_users), 1.0), 0.0, 1.0)
    extra = np.floor(extra * scale[user]).astype(np.int64)
    slack = np.maximum(room - np.bincount(user, extra, cfg.n_users), 0)
    offset = np.floor(rng.random(cfg.n_users) * slack).astype(np.int64)
    step = np.where(k > 0, gap + extra + np.r_[0, duration[:-1]], 0)
    cum = np.cumsum(step)
    start = offset[user] + cum - cum[first][user]
    return _Sessions(user=user, head=head, length=length, dwell=dwell, start=start)


def _choose_destinations(cfg: TravelConfig, cities: pd.DataFrame, affinity: np.ndarray,
                         s: _Sessions, rng: np.random.Generator) -> np.ndarray:
    """Destination city per session: affinity x popularity x season x trend; trips continue."""
    country = pd.factorize(cities["country"])[0]  # table order, the columns of ``affinity``
    season = cities["season"].map({"summer": 1, "winter": -1, "none": 0}).to_numpy()
    trend = np.where(cities["trending"], math.log(cfg.trend_strength), 0.0)
    doy = date.fromisoformat(cfg.start_date).timetuple().tm_yday + s.start / 86400
    summer = np.cos(2 * math.pi * (doy - _SUMMER_PEAK_DOY) / 365.25)
    log_w = (np.outer(s.start / (cfg.days * 86400), trend)
             + cfg.seasonality * np.outer(summer, season))
    pop = cities["popularity"].to_numpy()
    within = pop / np.bincount(country, pop)[country]  # affinity already holds country popularity
    w = affinity[s.user][:, country] * within * np.exp(log_w)  # (S, C)
    city = _draw_rows(w, rng)
    cont = np.flatnonzero(s.head != np.arange(len(s.head)))
    trip_city = city[s.head[cont]]  # heads are fresh sessions, drawn above
    same_country = country == country[trip_city][:, None]
    same_city = np.arange(len(cities)) == trip_city[:, None]
    city[cont] = _draw_rows(w[cont] * same_country * (1 + _REPEAT_BOOST * same_city), rng)
    return city


def _simulate_clicks(cfg: TravelConfig, cities: pd.DataFrame, products: pd.DataFrame,
                     s: _Sessions, city: np.ndarray, level: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """(S, L) internal product index per click, -1 for padding; vectorised over sessions."""
    cat_idx = [CATEGORIES.index(c) for c in cfg.categories]
    n_cat, n_sess = len(cat_idx), len(s.length)
    trans = _TRANSITIONS[np.ix_(cat_idx, cat_idx)]
    trans_keys = _cdf_keys(np.repeat(np.arange(n_cat), n_cat), trans.ravel())
    start_keys = _cdf_keys(np.zeros(n_cat, np.int64), _START[cat_idx])
    group, tier, pop = (products[c].to_numpy() for c in ("_group", "_tier", "_pop"))
    fit_keys = [_cdf_keys(group, pop * _TIER_FIT[lv, tier]) for lv in range(3)]
    city_pop, country = cities["popularity"].to_numpy(), pd.factorize(cities["country"])[0]
    noise_keys = _cdf_keys(np.zeros(len(group), np.int64), pop * city_pop[products["_city"]])
    jump_keys = (_cdf_keys(country, city_pop), _cdf_keys(np.zeros_like(country), city_pop))
    items = np.full((n_sess, int(s.length.max())), -1, dtype=np.int64)
    city, cat, lv = city.copy(), np.zeros(n_sess, np.int64), level[s.user]

    def pick(rows: np.ndarray) -> np.ndarray:  # product from each row's city and category
        out = np.empty(len(rows), np.int64)
        for t in range(3):
            sel = rows[lv[rows] == t]
            out[lv[rows] == t] = _draw(fit_keys[t], city[sel] * n_cat + cat[sel], rng)
        return out

    for t in range(items.shape[1]):
        act = np.flatnonzero(s.length > t)
        if t == 0:
            cat[act] = _draw(start_keys, np.zeros(len(act), np.int64), rng)
            items[act, 0] = pick(act)
            continue
        r = rng.random(len(act))
        revisit_cut = cfg.noise_share + (cfg.revisit_share if t >= 2 else 0.0)
        noise, back, move = (act[r < cfg.noise_share],
                             act[(r >= cfg.noise_share) & (r < revisit_cut)], act[r >= revisit_cut])
        items[noise, t] = _draw(noise_keys, np.zeros(len(noise), np.int64), rng)
        # Back to a product seen before the previous click (never a plain double click).
        items[back, t] = items[back, (rng.random(len(back)) * (t - 1)).astype(np.int64)]
        cat[move] = _draw(trans_keys, cat[move], rng) - cat[move] * n_cat
        jump = move[rng.random(len(move)) < cfg.city_jump_prob]
        near = rng.random(len(jump)) < _SAME_COUNTRY_JUMP
        city[jump[near]] = _draw(jump_keys[0], country[city[jump[near]]], rng)
        city[jump[~near]] = _draw(jump_keys[1], np.zeros(int((~near).sum()), np.int64), rng)
        items[move, t] = pick(move)
        # Comparing offers means another product: redraw once when the last one came up again.
        again = move[items[move, t] == items[move, t - 1]]
        items[again, t] = pick(again)
    return items


def generate_travel(config: TravelConfig | None = None) -> TravelData:
    """Generate users, products and click events of a synthetic travel shop.

    Args:
        config: generator knobs; ``TravelConfig()`` (2,000 users, 600 products) when omitted.

    Returns:
        ``TravelData`` whose frames are identical for identical configs (seed included).
    """
    cfg = config or TravelConfig()
    rng = np.random.default_rng(cfg.seed)
    cities = _build_cities(cfg, rng)
    products = _build_products(cfg, cities, rng)
    users, affinity, level = _build_users(cfg, cities, rng)
    sessions = _schedule_sessions(cfg, rng)
    city = _choose_destinations(cfg, cities, affinity, sessions, rng)
    items = _simulate_clicks(cfg, cities, products, sessions, city, level, rng)
    clicked = np.arange(items.shape[1]) < sessions.length[:, None]
    t0 = datetime.combine(date.fromisoformat(cfg.start_date), datetime.min.time(), UTC)
    times = int(t0.timestamp()) + sessions.start[:, None] + np.cumsum(sessions.dwell, axis=1)
    events = pd.DataFrame({
        "user_id": users["user_id"].to_numpy()[np.repeat(sessions.user, sessions.length)],
        "item_id": products["item_id"].to_numpy()[items[clicked]],
        "timestamp": times[clicked].astype(np.int64),
        "session_id": np.repeat(np.arange(len(sessions.length), dtype=np.int64), sessions.length),
    })
    products = products.drop(columns=[c for c in products.columns if c.startswith("_")])
    cities["n_products"] = products.groupby("city").size().reindex(cities["city"]).to_numpy()
    _log.debug("generated %d events, %d sessions", len(events), len(sessions.length))
    return TravelData(users=users, products=products.sort_values("item_id", ignore_index=True),
                      events=events, cities=cities)
