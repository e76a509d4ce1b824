"""`scheduling-worker evaluate`: the shipped ranker, the model alone, the heuristic, random
order and the hidden taste (the ceiling), scenario by scenario, on simulated users.

Two kinds of simulated users (no database: the feature code runs on in-memory data):

- the behaviour simulator's (`simulate`): months of booked habits, outcomes and a
  little feedback, tastes that drift;
- scenario users: a hidden band of the day they like (narrow or wide; another band
  on weekends; in far time zones; drifting), who say so only by answering on slots
  they are shown (or, in one scenario, only by booking and doing or missing them);
  and, in two scenarios the model never trains on, tastes that are no one band: two
  bands a day, or a smooth rise and fall over the day.
  The slots they are shown are drawn independently of any ranker: half near the
  time they believe suits them (the band's peak give or take an hour and a half),
  half anywhere free in the day.

Who trains and who is tested. The model is trained on the behaviour simulator's
users numbered from 20% up (their days before the last `test_days`) and on
`scenario_users` training users of every scenario but the two that are no one band
(all their answers). It is
tested on users it never saw: the simulator's first 20% ("simulator: unseen
users"), fresh users of every scenario (another random stream of the same seed),
and, as a second look, the training simulator users' last `test_days` days
("simulator: later weeks", the only test on users the model saw). Nothing of a
test day is known to any ranker before that day.

Measures, per scenario, over every test day's free slots: AUC and Brier score
against outcomes drawn from the hidden taste (one per slot), and the top-3 hit rate:
the chance that the slot the user would have kept (drawn in proportion to their
hidden probabilities) is among a ranker's first three. The exploration slot of the
shipped ranker is never among the first three, so it does not enter these figures.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from graphql_api.recommend import adaptive, calibration, heuristic, personal
from graphql_api.recommend.adaptive import Answers
from graphql_api.recommend.data import Booked, Busy, HabitData, Tally, rows_for
from graphql_api.recommend.features import COLUMN, Said
from graphql_api.recommend.model import MODEL_ALONE, Ranker
from graphql_api.recommend.scores import roc_auc
from graphql_api.recommend.simulate import (
    FIRST_DAY,
    WIDE,
    ZONES,
    SimUser,
    day_slots,
    meetings_of,
    simulate,
    squeezed,
)
from graphql_api.recommend.training import Dataset, fit_global, labelled_rows
from graphql_api.scheduling.slots import Slot
from graphql_api.settings import Settings

Array = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float32]

SHIPPED = "shipped (model or heuristic, + answers)"
MODEL = "model alone"
HEURISTIC = "heuristic"
RANDOM = "random"
CEILING = "the hidden taste (ceiling)"
RANKERS = (SHIPPED, MODEL, HEURISTIC, RANDOM, CEILING)
MIN_HISTORY: int = Settings.model_fields["recommend_min_history"].default
FAR = ("Pacific/Kiritimati", "Pacific/Auckland", "Pacific/Honolulu", "Asia/Kathmandu")
TEST_DAYS = 7
SHOWN = 5  # slots shown to a user who answers on one of them


BAND = "one band"
TWO_BANDS = "two bands"  # two separate bands a day (a morning and an evening person)
SMOOTH = "smooth"  # no band: two waves over the day, a preference that rises and falls


@dataclass(frozen=True)
class Scenario:
    name: str
    answers: int
    spread: tuple[float, float] = (0.75, 3.0)  # the band's width (hours, one deviation)
    weekend_apart: bool = False  # another band on weekends
    zones: tuple[str, ...] = tuple(ZONES)
    drift: float = 0.0  # the most hours the band moves in 30 days, either way
    outcomes: bool = False  # answers are booked instances done or not, never feedback
    days: int = 28  # the answers are spread over these days before the test week
    taste: str = BAND  # BAND, TWO_BANDS or SMOOTH
    trained: bool = True  # the model is trained on users of it too (else tested only)


SCENARIOS = (
    Scenario("0 answers", 0),
    Scenario("5 answers", 5),
    Scenario("15 answers", 15),
    Scenario("50 answers", 50),
    Scenario("narrow band, 15 answers", 15, spread=(0.5, 1.0)),
    Scenario("wide band, 15 answers", 15, spread=(2.5, 4.0)),
    Scenario("weekends apart, 15 answers", 15, spread=(0.75, 1.5), weekend_apart=True),
    Scenario("far time zones, 15 answers", 15, zones=FAR),
    Scenario("drifting taste, 50 answers", 50, drift=2.0, days=56),
    Scenario("booked outcomes only, 15", 15, outcomes=True),
    # tastes no band describes, which the model never trains on: is a ranker that looks
    # for one band worse than the heuristic there?
    Scenario("two bands a day, 15 answers", 15, spread=(0.5, 1.5), taste=TWO_BANDS, trained=False),
    Scenario("smooth, no band, 15 answers", 15, taste=SMOOTH, trained=False),
)


@dataclass(frozen=True)
class Band:
    """A scenario user's hidden taste: how likely they keep a slot."""

    peak: float  # local hour
    weekend_peak: float
    spread: float
    drift: float  # hours per 30 days
    base: float
    floor: float
    squeeze: float  # factor when a meeting ends or starts within 15 minutes
    second_peak: float | None = None  # TWO_BANDS: another band as high
    waves: tuple[float, ...] = ()  # SMOOTH: amplitude and phase of two waves, no band

    def chance(self, local: datetime, day_index: int, is_squeezed: bool) -> float:
        shift = self.drift * day_index / 30
        peak = (self.weekend_peak if local.weekday() >= 5 else self.peak) + shift
        hour = local.hour + local.minute / 60
        if self.waves:
            a1, f1, a2, f2 = self.waves
            x = 2 * math.pi * (hour - shift) / 24
            level = min(1.0, max(0.0, 0.5 + a1 * math.cos(x - f1) + a2 * math.cos(2 * x - f2)))
        else:
            level = self._bump(hour, peak)
            if self.second_peak is not None:
                level = max(level, self._bump(hour, self.second_peak + shift))
        p = self.floor + (self.base - self.floor) * level
        return p * self.squeeze if is_squeezed else p

    def _bump(self, hour: float, peak: float) -> float:
        distance = abs(hour - peak) % 24
        distance = min(distance, 24 - distance)
        return math.exp(-(distance**2) / (2 * self.spread**2))


@dataclass
class BandUser:
    sub: str
    scenario: Scenario
    zone: ZoneInfo
    band: Band
    believed: float  # the hour they think suits them
    meetings: dict[date, list[Busy]]

    @property
    def first_test_day(self) -> int:
        return self.scenario.days

    def empty(self) -> HabitData:
        """Their habit before any answer."""
        return HabitData(
            zone=self.zone,
            windows=WIDE,
            times=1,
            per="DAY",
            duration_minutes=30,
            busy=[b for day in self.meetings.values() for b in day],
            scheduled=[],
            check_ins={},
            feedback=[],
            user_rate=lambda _: 0.5,
        )

    def chance(self, slot: Slot, d: int) -> float:
        day = FIRST_DAY + timedelta(days=d)
        local = slot.start.astimezone(self.zone)
        return self.band.chance(local, d, squeezed(slot, self.meetings[day]))


def band_user(rng: random.Random, scenario: Scenario, sub: str) -> BandUser:
    zone = ZoneInfo(rng.choice(scenario.zones))
    peak = rng.uniform(6.5, 21)
    weekend_peak = peak
    if scenario.weekend_apart:
        weekend_peak = peak + rng.choice([-1, 1]) * rng.uniform(3, 7)
        if not 6.5 <= weekend_peak <= 21:
            weekend_peak = 2 * peak - weekend_peak
    band = Band(
        peak=peak,
        weekend_peak=weekend_peak,
        spread=rng.uniform(*scenario.spread),
        drift=rng.uniform(-scenario.drift, scenario.drift),
        base=rng.uniform(0.75, 0.95),
        floor=rng.uniform(0.03, 0.1),
        squeeze=rng.uniform(0.5, 0.9),
    )
    every_day = [FIRST_DAY + timedelta(days=d) for d in range(scenario.days + TEST_DAYS)]
    meetings = {day: meetings_of(rng, day, zone, sub) for day in every_day}
    believed = peak + rng.gauss(0, 1.5)
    # the other tastes draw last, so that the one-band scenarios' users stay as they were
    if scenario.taste == TWO_BANDS:
        second = peak + rng.choice([-1, 1]) * rng.uniform(4, 9)
        if not 6.5 <= second <= 21:
            second = 2 * peak - second
        band = replace(band, second_peak=second)
    elif scenario.taste == SMOOTH:
        a1, f1 = rng.uniform(0.2, 0.35), rng.uniform(0, 2 * math.pi)
        a2, f2 = rng.uniform(0.1, 0.2), rng.uniform(0, 2 * math.pi)
        band = replace(band, waves=(a1, f1, a2, f2))
    return BandUser(sub, scenario, zone, band, believed, meetings)


Show = Callable[[Matrix, Answers, int, str], list[int]]
"""The slots a ranker shows (indices of the rows, best first), given what it knows."""


def answer_days(user: BandUser, data: HabitData) -> Iterator[tuple[int, int, list[Slot]]]:
    """When the user answers: the n-th answer on day d (spread evenly over the scenario's
    days), with that day's free slots in `data` as it is then (days without one skipped)."""
    scenario = user.scenario
    for n in range(scenario.answers):
        d = n * scenario.days // scenario.answers
        day = FIRST_DAY + timedelta(days=d)
        slots = day_slots(data, day, user.meetings[day])
        if slots:
            yield n, d, slots


def answered(user: BandUser, show: Show, rng: random.Random) -> HabitData:
    """The user's habit after their answers, each on one of the slots `show` offered that
    day (drawn evenly): accepted or not (or booked and done or not) as their taste says."""
    data = user.empty()
    statuses: list[tuple[date, str]] = []
    scenario = user.scenario
    for n, d, slots in answer_days(user, data):
        day = FIRST_DAY + timedelta(days=d)
        known = datetime.combine(day, time(6), user.zone) + timedelta(minutes=n)
        rows, said, history = view(data, slots, known)
        shown = show(rows, said, history, f"{user.sub}:{n}")
        slot = slots[rng.choice(shown)]
        yes = rng.random() < user.chance(slot, d)
        if scenario.outcomes:
            key = f"{user.sub}:{day}"
            data.scheduled.append(Booked(slot.start, key, yes))
            data.busy.append(Busy(slot.start, slot.end, key))
            data.check_ins[day] = "DONE" if yes else "MISSED"
            statuses.append((day, data.check_ins[day]))
            data.__post_init__()  # a booked instance joined the busy time: sort it again
        else:
            data.feedback.append(Said(slot.start, yes, known.astimezone(UTC)))
    data.user_rate = Tally.of(statuses).rate_before
    return data


def passive(user: BandUser, rng: random.Random) -> Show:
    """Slots shown by no ranker: half near the time the user believes suits them, half
    anywhere free (how the training users answered)."""

    def show(rows: Matrix, said: Answers, history: int, key: str) -> list[int]:
        hour = rows[:, COLUMN["local_hour"]].astype(np.float64)
        gap = np.abs(hour - user.believed) % 24
        near = np.flatnonzero(np.minimum(gap, 24 - gap) <= 1.5)
        if len(near) and rng.random() < 0.5:
            return [int(rng.choice(near.tolist()))]
        return [rng.randrange(len(rows))]

    return show


def view(data: HabitData, slots: list[Slot], known: datetime) -> tuple[Matrix, Answers, int]:
    """The slots' rows, the user's answers and how many there are, as known at `known`."""
    rows = rows_for(
        data,
        known,
        [s.start for s in slots],
        [(s.window_start.timestamp(), s.window_end.timestamp()) for s in slots],
    )
    said = adaptive.answers(data.zone, known, data.outcomes(), data.feedback)
    today = known.astimezone(data.zone).date()
    history = sum(b.start.astimezone(data.zone).date() < today for b in data.scheduled) + sum(
        s.at <= known for s in data.feedback
    )
    return rows, said, history


# --- judging ----------------------------------------------------------------------------


Scorer = Callable[[Matrix, Answers, int], Array]


@dataclass(frozen=True)
class Scores:
    auc: float
    top3: float
    brier: float


@dataclass
class Judged:
    labels: list[Array] = field(default_factory=list)
    scores: dict[str, list[Array]] = field(default_factory=lambda: {r: [] for r in RANKERS})
    hits: dict[str, list[float]] = field(default_factory=lambda: {r: [] for r in RANKERS})
    users: int = 0

    def add(self, scores: dict[str, Array], chances: Array, rng: np.random.Generator) -> None:
        """One day of one user: every free slot scored by every ranker."""
        self.labels.append((rng.random(len(chances)) < chances).astype(np.float64))
        for name in RANKERS:
            score = chances if name == CEILING else scores[name]
            self.scores[name].append(score)
            top = np.lexsort((np.arange(len(score)), -score))[:3]
            self.hits[name].append(float(chances[top].sum() / chances.sum()))

    def result(self) -> dict[str, Scores]:
        y = np.concatenate(self.labels)
        found = {}
        for name in RANKERS:
            p = np.concatenate(self.scores[name])
            found[name] = Scores(
                auc=roc_auc(y, p),
                top3=float(np.mean(self.hits[name])),
                brier=calibration.brier(y, np.clip(p, 0, 1)),
            )
        return found


@dataclass(frozen=True)
class Contender:
    """A ranker: how it scores slots, and which it shows."""

    score: Scorer
    show: Show


def contenders(ranker: Ranker, rng: np.random.Generator) -> dict[str, Contender]:
    def use(history: int) -> Ranker | None:
        return ranker if history >= MIN_HISTORY else None

    def shipped(rows: Matrix, said: Answers, history: int) -> Array:
        return personal.scored(rows, said, use(history)).score

    def shown(rows: Matrix, said: Answers, history: int, key: str) -> list[int]:
        return [r.row for r in personal.rank(rows, said, use(history), SHOWN, key)]

    def model(rows: Matrix, said: Answers, history: int) -> Array:
        return ranker.scores(rows)

    def by_heuristic(rows: Matrix, said: Answers, history: int) -> Array:
        return calibration.HEURISTIC.probability(None, heuristic.score(rows)[0])

    def by_chance(rows: Matrix, said: Answers, history: int) -> Array:
        return rng.random(len(rows))

    def best(score: Scorer) -> Show:
        def show(rows: Matrix, said: Answers, history: int, key: str) -> list[int]:
            return personal.order(score(rows, said, history), SHOWN)

        return show

    return {
        SHIPPED: Contender(shipped, shown),
        MODEL: Contender(model, best(model)),
        HEURISTIC: Contender(by_heuristic, best(by_heuristic)),
        RANDOM: Contender(by_chance, best(by_chance)),
    }


def judge_band_users(
    users: list[BandUser], rivals: dict[str, Contender], seed: int, rng: np.random.Generator
) -> Judged:
    """Each ranker's own copy of each user, who answered on the slots that ranker showed."""
    judged = Judged(users=len(users))
    for user in users:
        habits = {
            name: answered(user, rival.show, random.Random(f"{seed}:{user.sub}"))
            for name, rival in rivals.items()
        }
        for d in range(user.first_test_day, user.first_test_day + TEST_DAYS):
            day = FIRST_DAY + timedelta(days=d)
            slots = day_slots(habits[SHIPPED], day, user.meetings[day])
            if len(slots) < 4:
                continue
            known = datetime.combine(day, time(), user.zone)
            scores = {}
            for name, rival in rivals.items():
                scores[name] = rival.score(*view(habits[name], slots, known))
            chances = np.array([user.chance(s, d) for s in slots])
            judged.add(scores, chances, rng)
    return judged


def judge_sim_users(
    users: list[SimUser],
    first: int,
    days: int,
    rivals: dict[str, Contender],
    rng: np.random.Generator,
) -> Judged:
    """The behaviour simulator's users, whose history no ranker chose."""
    judged = Judged(users=len(users))
    for user in users:
        for habit in user.habits:
            for d in range(first, days):
                day = FIRST_DAY + timedelta(days=d)
                start = datetime.combine(day, time(), user.zone)
                booked = habit.booked.get(day)
                near = habit.data.busy_near(start, start + timedelta(days=1))
                busy = [Busy(s, e, "") for s, e in near if booked is None or s != booked]
                slots = day_slots(habit.data, day, busy)
                if len(slots) < 4:
                    continue
                seen = view(habit.data, slots, start)
                scores = {name: rival.score(*seen) for name, rival in rivals.items()}
                chances = np.array(
                    [
                        habit.taste.chance(s.start.astimezone(user.zone), d, squeezed(s, busy))
                        for s in slots
                    ]
                )
                judged.add(scores, chances, rng)
    return judged


# --- the evaluation ---------------------------------------------------------------------


@dataclass
class Evaluation:
    seed: int
    rows_trained: int
    train_users: str
    results: dict[str, dict[str, Scores]]
    tested: dict[str, str]
    heuristic_refit: calibration.Blend
    blend: list[float]

    def summary(self) -> str:
        h = self.heuristic_refit
        lines = [
            f"seed {self.seed}; trained on {self.rows_trained} rows of {self.train_users}",
            f"heuristic calibration refit on the training rows: slope {h.heuristic:.2f}, "
            f"bias {h.bias:.2f} (shipped: {calibration.HEURISTIC.heuristic:.2f}, "
            f"{calibration.HEURISTIC.bias:.2f}); the model's blend "
            f"(model, heuristic, bias): {', '.join(f'{v:.2f}' for v in self.blend)}",
            "tested: " + "; ".join(f"{name}: {what}" for name, what in self.tested.items()),
        ]
        return "\n".join(lines)

    def table(self) -> str:
        lines = [
            "| scenario | ranker | AUC | top-3 hit rate | Brier |",
            "|---|---|---:|---:|---:|",
        ]
        for scenario, by_ranker in self.results.items():
            for ranker, s in by_ranker.items():
                lines.append(
                    f"| {scenario} | {ranker} | {s.auc:.3f} | {s.top3:.1%} | {s.brier:.3f} |"
                )
        return "\n".join(lines)

    def verdict(self) -> str:
        """Where the shipped ranker falls short of the issue's bar, or that it does not."""
        short = []
        for scenario, r in self.results.items():
            shipped, by_heuristic = r[SHIPPED], r[HEURISTIC]
            if shipped.top3 < by_heuristic.top3 or shipped.auc < by_heuristic.auc:
                short.append(f"{scenario}: below the heuristic")
            answered = next((s.answers for s in SCENARIOS if s.name == scenario), 0)
            if answered >= 15 and r[CEILING].top3 - shipped.top3 > 0.03:
                gap = r[CEILING].top3 - shipped.top3
                short.append(f"{scenario}: {gap:.1%} below the ceiling")
        if not short:
            return (
                "shipped >= heuristic on AUC and top-3 everywhere; within 3 points of the "
                "ceiling wherever users gave 15 answers or more"
            )
        return "short of the bar: " + "; ".join(short)


def training_rows(seen: list[SimUser], cut: date, seed: int, scenario_users: int) -> Dataset:
    """What `evaluate --seed` trains the model on: the simulator's users' days before
    `cut`, and `scenario_users` training users of each trained scenario (their own random
    stream, `{seed}:train`; never the users a scenario is tested on)."""
    train = Dataset()
    for user in seen:

        def before_cut(moment: datetime, zone: ZoneInfo = user.zone) -> bool:
            return moment.astimezone(zone).date() < cut

        for habit in user.habits:
            labelled_rows(habit.data, user.sub, train, wanted=before_cut)
    rng = random.Random(f"{seed}:train")
    for k, scenario in enumerate(SCENARIOS):
        for n in range(scenario_users if scenario.trained else 0):
            trainee = band_user(rng, scenario, f"train-{k}-{n}")
            labelled_rows(answered(trainee, passive(trainee, rng), rng), trainee.sub, train)
    return train


def evaluate(
    users: int = 200,
    days: int = 112,
    test_days: int = 14,
    *,
    scenario_users: int = 40,
    seed: int = 7,
    holdout_share: float = 0.2,
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    say = progress or (lambda _: None)
    say(f"seed {seed}: simulating {users} users over {days} days")
    sims = simulate(users, days, seed=seed)
    held = int(users * holdout_share)
    unseen, seen = sims[:held], sims[held:]
    say(f"simulating {scenario_users} training users of each trained scenario")
    train = training_rows(seen, FIRST_DAY + timedelta(days=days - test_days), seed, scenario_users)
    test_rng = random.Random(f"{seed}:test")
    tests: dict[str, list[BandUser]] = {}
    for k, scenario in enumerate(SCENARIOS):
        say(f"simulating {scenario_users} test users: {scenario.name}")
        tests[scenario.name] = [
            band_user(test_rng, scenario, f"test-{k}-{n}") for n in range(scenario_users)
        ]
    say(f"training on {len(train)} rows")
    fitted = fit_global(train, rounds=400)
    blend = calibration.Blend.of(fitted.metrics["blend"]) or MODEL_ALONE
    fitted.booster.set_param({"nthread": 1})  # as the API serves it; faster on small batches
    ranker = Ranker("global", 0, fitted.booster, blend)
    x, y = train.matrix()
    refit = calibration.fit(y, heuristic.score(x)[0], None)
    streams = np.random.SeedSequence(seed).spawn(2)
    rivals = contenders(ranker, np.random.default_rng(streams[0]))
    rng = np.random.default_rng(streams[1])  # the outcomes drawn from the hidden tastes
    results: dict[str, dict[str, Scores]] = {}
    tested: dict[str, str] = {}
    first_test = days - test_days
    for name, group, first in (
        ("simulator: unseen users", unseen, first_test),
        ("simulator: later weeks", seen, first_test),
    ):
        say(f"testing: {name}")
        judged = judge_sim_users(group, first, days, rivals, rng)
        results[name] = judged.result()
        tested[name] = f"{len(group)} users, {len(judged.hits[SHIPPED])} days"
    for scenario in SCENARIOS:
        say(f"testing: {scenario.name}")
        judged = judge_band_users(tests[scenario.name], rivals, seed, rng)
        results[scenario.name] = judged.result()
        tested[scenario.name] = f"{judged.users} users, {len(judged.hits[SHIPPED])} days"
    train_users = (
        f"{len(seen)} simulator users (days before the last {test_days}) and "
        f"{scenario_users} training users of each scenario but "
        + ", ".join(s.name for s in SCENARIOS if not s.trained)
        + " (tested only)"
    )
    return Evaluation(seed, len(train), train_users, results, tested, refit, blend.as_list())
