"""Demo data for `make run` (`flask seed`): what a newcomer sees on a fresh checkout.

A site with three petitions and no signatures shows no chart, no breakdown and no progress,
so nobody can tell what the platform does. `seed()` writes a small history instead: petitions
in every public state (open, closed by its organiser, closed by its deadline with an official
response, one waiting for a moderator), in English, Russian and Kyrgyz, with about twelve
thousand signatures from Kyrgyzstan's regions and the diaspora, confirmed over weeks along a
realistic curve (a launch spike, a decay, a second bump after an organiser's update), some
still pending and a few invalidated or withdrawn.

How, and why so
---------------
* **Fast.** Signatures are bulk inserted in chunks (one executemany each), not signed one by
  one through services/signing.py: `make run` seeds in a second or two.
* **Consistent with the rest of the app.** Every row is one the app itself could have written:
  `email_key` is the app's keyed hash (emailaddr.identity_key), so the one-signature-per-person
  constraint holds; the count shards are written from the confirmed rows with the rule of
  services/counts.py (`shard_for(id, COUNT_SHARDS)`), so `flask counts reconcile` finds no
  drift; the lifecycle events (services/transitions.log_event) tell the moderation log what
  happened; the milestones already passed are recorded, so the worker does not email the demo
  organiser about them when `make run` starts; the signer emails those steps would have queued
  are marked as done (`*_mail_after` NULL), so nobody is mailed about history. Pending
  signatures are at most a few days old, so the worker's purge of unconfirmed ones leaves them.
* **The same every time.** One `random.Random(SEED)`: names, places and the curve do not
  change between runs; dates of the recent petitions are relative to now, the CSTO petition's
  are those of January 2022.
* **Never in production.** The demo accounts have a published password (DEMO_PASSWORD); the
  command refuses to run with PETITIONS_ENV=production.

Names and addresses are made up from common first names and surnames; every address is under a
domain reserved for examples (RFC 2606), so no mail can reach anybody.
"""

from __future__ import annotations

import bisect
import logging
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from .emailaddr import identity_key, normalise_for_identity
from .models import (
    CountShard,
    DailyCount,
    EventAction,
    MilestoneKind,
    Petition,
    PetitionMilestone,
    PetitionState,
    PetitionUpdate,
    Role,
    Signature,
    SignatureStatus,
    User,
)
from .passwords import hash_password
from .services.accounts import find_by_email
from .services.counts import shard_for
from .services.petitions import PetitionDraft, cleaned_fields
from .services.transitions import log_event

logger = logging.getLogger(__name__)

#: The seed of the random generator: the same demo data on every run.
SEED = 20220106
#: Password of the demo accounts that can log in; printed by `flask seed`, documented in the
#: README, and the reason the command refuses to run in production.
DEMO_PASSWORD = "petitions-demo"  # noqa: S105 - a published demo password, never in production
#: Signatures per INSERT statement.
CHUNK = 2000
#: Days of daily snapshots (daily_counts) written before today; the worker records today's.
SNAPSHOT_DAYS = 14
#: Local time of the signers (Asia/Bishkek, UTC+6 all year): people sign by day, not at 4 a.m.
BISHKEK = timezone(timedelta(hours=6))
#: Relative share of signatures in each local hour of the day (0-23).
HOUR_WEIGHTS = (
    1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 3.5, 4.5, 5.0, 5.5,
    6.0, 6.0, 5.5, 5.0, 5.0, 5.5, 6.5, 7.5, 8.0, 7.0, 5.0, 2.5,
)  # fmt: skip
_HOUR_CUMULATIVE = tuple(sum(HOUR_WEIGHTS[: hour + 1]) for hour in range(len(HOUR_WEIGHTS)))
#: Domains reserved for examples (RFC 2606), with how often signers "use" them.
EMAIL_DOMAINS = (("example.org", 5), ("example.com", 3), ("example.net", 2))


# --- accounts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAccount:
    email: str
    display_name: str
    role: Role
    #: Whether one can log in with DEMO_PASSWORD; the others have no usable password.
    can_log_in: bool


#: The organiser and moderator a newcomer logs in as, and two organisers nobody logs in as.
ACCOUNTS = {
    "organiser": DemoAccount("organiser@example.org", "Aizada Sadykova", Role.ORGANISER, True),
    "moderator": DemoAccount("moderator@example.org", "Demo Moderator", Role.MODERATOR, True),
    "air": DemoAccount("gulnara.air@example.org", "Гульнара Осмонова", Role.ORGANISER, False),
    "bikes": DemoAccount("timur.bikes@example.org", "Timur Kim", Role.ORGANISER, False),
}
#: Stored instead of a hash for accounts nobody logs in as: not an argon2 hash, so no password
#: matches it (passwords.verify_password answers False for a malformed hash).
NO_PASSWORD = "!demo account without a password"  # noqa: S105


# --- petitions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """How many people sign on each day after the opening, relative to each other: a launch
    spike decaying over `decay` days, bumps (day, height, width in days), and a floor."""

    decay: float
    bumps: tuple[tuple[float, float, float], ...] = ()
    floor: float = 0.02

    def weight(self, day: int) -> float:
        bumps = sum(h * math.exp(-0.5 * ((day - c) / w) ** 2) for c, h, w in self.bumps)
        return math.exp(-day / self.decay) + bumps + self.floor


@dataclass(frozen=True)
class Removal:
    """Confirmed signatures taken out of the total later (services/removal.py)."""

    status: SignatureStatus
    at: datetime
    count: int
    note: str
    #: Done by the demo moderator; otherwise by an operator at the command line.
    by_moderator: bool = False


@dataclass(frozen=True)
class Update:
    at: datetime
    title: str
    body: str


@dataclass(frozen=True)
class DemoPetition:
    draft: PetitionDraft
    #: Key of its organiser in ACCOUNTS.
    owner: str
    created: datetime
    submitted: datetime
    #: None: still waiting in the moderation queue.
    opened: datetime | None = None
    closes: datetime | None = None
    closed: datetime | None = None
    #: "organiser" (closed early) or "deadline".
    closed_by: str | None = None
    #: Signatures confirmed in the end, sponsors and removed ones not included.
    signers: int = 0
    #: Signed in the last days and not (yet) confirmed.
    pending: int = 0
    curve: Curve = field(default_factory=lambda: Curve(decay=3.0))
    #: (country, region as typed, weight) the signers come from.
    places: tuple[tuple[str, str, float], ...] = ()
    updates: tuple[Update, ...] = ()
    response: tuple[datetime, str] | None = None
    removals: tuple[Removal, ...] = ()

    @property
    def state(self) -> PetitionState:
        if self.opened is None:
            return PetitionState.MODERATION
        return PetitionState.CLOSED if self.closed else PetitionState.OPEN


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


#: Most signers of a national question come from the capital and Chüy around it, then from the
#: south; some from the diaspora. Texts as people type them: most are ISO 3166-2 names that
#: petitions/regions.py recognises; some ("Issyk-Kul", "Бишкек", a town) are not and are
#: counted as "other or not given", as are the empty ones.
NATIONWIDE = (
    ("KG", "Bishkek", 30.0),
    ("KG", "Bishkek city", 4.0),
    ("KG", "Chüy", 10.0),
    ("KG", "Chuy region", 3.0),
    ("KG", "Osh", 6.0),
    ("KG", "Osh Shaary", 5.0),
    ("KG", "Jalal-Abad", 6.0),
    ("KG", "Ysyk-Köl", 3.0),
    ("KG", "Ysyk-Kol", 1.5),
    ("KG", "Naryn", 3.0),
    ("KG", "Talas", 2.5),
    ("KG", "Batken", 2.5),
    ("KG", "Issyk-Kul", 1.0),
    ("KG", "Бишкек", 2.0),
    ("KG", "Kant", 0.7),
    ("KG", "", 4.0),
    ("RU", "Moskva", 4.0),
    ("RU", "Sankt-Peterburg", 1.2),
    ("RU", "Sverdlovskaya oblast", 0.5),
    ("RU", "Moscow", 0.8),
    ("RU", "", 0.6),
    ("KZ", "Almaty", 1.8),
    ("KZ", "Astana", 0.4),
    ("TR", "İstanbul", 0.8),
    ("KR", "Seoul-teukbyeolsi", 0.4),
    ("US", "New York", 0.3),
    ("DE", "Berlin", 0.2),
    ("GB", "", 0.1),
)
#: A question of the capital: mostly Bishkek and its suburbs.
CAPITAL = (
    ("KG", "Bishkek", 58.0),
    ("KG", "Bishkek city", 6.0),
    ("KG", "Бишкек", 4.0),
    ("KG", "Chüy", 12.0),
    ("KG", "Osh", 1.0),
    ("KG", "Ysyk-Köl", 1.0),
    ("KG", "Jalal-Abad", 1.0),
    ("KG", "", 6.0),
    ("RU", "Moskva", 1.5),
    ("KZ", "Almaty", 0.8),
    ("DE", "Berlin", 0.3),
)
#: A question of village schools: the regions more than the capital.
REGIONS = (
    ("KG", "Osh", 14.0),
    ("KG", "Jalal-Abad", 13.0),
    ("KG", "Naryn", 10.0),
    ("KG", "Talas", 8.0),
    ("KG", "Batken", 9.0),
    ("KG", "Ysyk-Köl", 8.0),
    ("KG", "Chüy", 10.0),
    ("KG", "Bishkek", 14.0),
    ("KG", "Osh Shaary", 4.0),
    ("KG", "Kochkor", 1.0),
    ("KG", "", 4.0),
    ("RU", "Moskva", 3.0),
    ("KZ", "Almaty", 1.0),
    ("TR", "İstanbul", 0.5),
)

CSTO_PETITION = PetitionDraft(
    title="Do not send Kyrgyz troops to Kazakhstan with the CSTO",
    action="We ask the deputies of the Jogorku Kenesh to refuse consent to sending units of "
    "the Armed Forces of the Kyrgyz Republic to Kazakhstan as part of the CSTO Collective "
    "Peacekeeping Forces.\n\n"
    "If consent has already been given, we ask the Jogorku Kenesh to revoke it and bring our "
    "servicemen home, and to decide on any future deployment abroad only after an open debate "
    "in which the reasons, the mandate and the duration are made public.",
    background="On 5 January 2022 the President of Kazakhstan asked the Collective Security "
    "Treaty Organization (CSTO) for help after days of protests and unrest in his country. "
    "That night the CSTO agreed to send a \u201cpeacekeeping\u201d force, and the Kyrgyz "
    "authorities announced that our country would take part.\n\n"
    "Under the Constitution, the armed forces of the Kyrgyz Republic may be used outside the "
    "country only by decision of the Jogorku Kenesh. The deputies are being asked to decide in "
    "an extraordinary session, within a day, without a public debate and without a clear "
    "answer to what our soldiers would be asked to do there.\n\n"
    "What happens in Kazakhstan is a matter for the people of a neighbouring country with whom "
    "we share a long border and many families. Kyrgyz soldiers must not be put where they "
    "could be ordered to act against the civilians of a friendly country, or drawn into a "
    "conflict whose causes and end nobody has explained to us.\n\n"
    "Our soldiers swore to defend the Kyrgyz Republic. We ask our deputies to hear the citizens "
    "who elected them before they decide.",
    addressee="Jogorku Kenesh — Parliament of the Kyrgyz Republic",
    signature_goal=10000,
)


def demo_petitions(now: datetime) -> list[DemoPetition]:
    """The demo petitions, oldest first (so the CSTO petition is number 1 in a fresh database).

    The CSTO petition keeps its dates of January 2022; the others are placed relative to `now`,
    so that two are open for signatures whenever the demo is seeded.
    """
    day = timedelta(days=1)
    hour = timedelta(hours=1)
    bikes_opened = (now - 250 * day).replace(hour=5, minute=0, second=0, microsecond=0)
    air_opened = (now - 38 * day).replace(hour=3, minute=30, second=0, microsecond=0)
    books_opened = (now - 9 * day).replace(hour=4, minute=15, second=0, microsecond=0)
    return [
        DemoPetition(
            draft=CSTO_PETITION,
            owner="organiser",
            created=_utc(2022, 1, 6, 1, 40),
            submitted=_utc(2022, 1, 6, 1, 55),
            opened=_utc(2022, 1, 6, 4, 5),
            closes=_utc(2022, 2, 5, 4, 5),
            closed=_utc(2022, 1, 20, 9, 30),
            closed_by="organiser",
            signers=7380,
            # Day 0 is the day of the vote and of the protest in Bishkek; the bump follows the
            # update of 10 January, when the servicemen were in Kazakhstan.
            curve=Curve(decay=1.2, bumps=((4.3, 0.3, 0.8),), floor=0.015),
            places=NATIONWIDE,
            updates=(
                Update(
                    _utc(2022, 1, 10, 6, 0),
                    "The Jogorku Kenesh has voted: what we ask now",
                    "On 6 January, while citizens protested in Bishkek against the deployment, "
                    "the Jogorku Kenesh gave its consent in an extraordinary session. Our "
                    "servicemen are now in Kazakhstan as part of the CSTO forces.\n\n"
                    "This petition goes on. It asks the deputies to revoke their consent and "
                    "bring our soldiers home, and to take such decisions only after an open "
                    "debate. Every signature tells them that citizens are watching.\n\n"
                    "Thank you to the thousands of you who signed on the first day. Please "
                    "share the petition with those who have not heard of it yet.",
                ),
                Update(
                    _utc(2022, 1, 20, 9, 0),
                    "The mission is over; we are closing the petition",
                    "The CSTO began to withdraw its forces from Kazakhstan on 13 January and "
                    "completed the withdrawal on 19 January. Our servicemen have come home, "
                    "and we are glad that they are safe.\n\n"
                    "We are closing this petition today. The question it asked remains: a "
                    "decision to send our soldiers abroad should be taken in the open, after a "
                    "debate, and not overnight. We will hand the signatures to the Jogorku "
                    "Kenesh and ask its deputies to change the procedure so that it does not "
                    "happen this way again.\n\n"
                    "Thank you for signing and for sharing.",
                ),
            ),
            removals=(
                Removal(
                    SignatureStatus.WITHDRAWN,
                    _utc(2022, 1, 8, 11, 20),
                    4,
                    "At the signers' request (email to the operators).",
                ),
                Removal(
                    SignatureStatus.INVALIDATED,
                    _utc(2022, 1, 12, 7, 45),
                    23,
                    "A burst of sign-ups from one address pattern; the addresses bounce.",
                    by_moderator=True,
                ),
                Removal(
                    SignatureStatus.WITHDRAWN,
                    _utc(2022, 1, 17, 13, 5),
                    3,
                    "At the signers' request.",
                ),
            ),
        ),
        DemoPetition(
            draft=PetitionDraft(
                title="Safe bicycle lanes on Chüy Avenue",
                action="We ask the Bishkek City Council to build a protected bicycle lane "
                "along Chüy Avenue, separated from the traffic by a kerb or bollards, and to "
                "connect it to the streets that lead to schools, universities and markets.",
                background="More and more people in Bishkek ride bicycles and scooters to "
                "work and to study. On Chüy Avenue they share the road with heavy traffic or "
                "squeeze along crowded pavements.\n\n"
                "A protected lane on the city's main east-west avenue would make riding safer "
                "for everybody, take some cars off the road and, in winter, a little of the "
                "smog out of the air. Many cities have built such lanes within one season.",
                addressee="Bishkek City Council",
            ),
            owner="bikes",
            created=bikes_opened - 3 * day,
            submitted=bikes_opened - 2 * day,
            opened=bikes_opened,
            closes=bikes_opened + 182 * day,
            closed=bikes_opened + 182 * day,
            closed_by="deadline",
            signers=1230,
            curve=Curve(decay=5.0, bumps=((60.0, 0.12, 4.0),), floor=0.01),
            places=CAPITAL,
            response=(
                bikes_opened + 210 * day,
                "Thank you for this petition and for the signatures of 1,200 residents.\n\n"
                "The City Council's committee on transport and roads considered the petition "
                "at its meeting. The committee asked the City Hall to include a pilot "
                "protected bicycle lane on a section of Chüy Avenue in next year's transport "
                "programme, and to hold a public hearing on its route and design before any "
                "work begins.\n\n"
                "The date of the hearing will be published on the City Council's website. "
                "The organisers of the petition will be invited.",
            ),
        ),
        DemoPetition(
            draft=PetitionDraft(
                title="Чистый воздух в Бишкеке зимой",
                action="Просим мэрию Бишкека принять и опубликовать план перевода городских "
                "котельных и частного сектора с угля на газ и электричество — с датами, "
                "бюджетом и ответственными на каждый год, — а также публиковать данные всех "
                "городских датчиков качества воздуха в открытом доступе.",
                background="Каждую зиму Бишкек оказывается среди городов с самым "
                "загрязнённым воздухом в мире. В морозные безветренные дни над городом стоит "
                "смог, и врачи советуют детям и пожилым людям реже выходить на улицу.\n\n"
                "Главные источники загрязнения известны: уголь и мусор, которые сжигают в "
                "печах частных домов, угольные котельные и старые автомобили. Отдельные меры "
                "принимались и раньше, но общего плана с понятными сроками у города нет.\n\n"
                "Мы просим не обещаний, а плана, который каждый житель может прочитать и "
                "проверить: что будет сделано к следующей зиме, что — через год и сколько это "
                "будет стоить.",
                addressee="Мэрия города Бишкек",
                signature_goal=5000,
            ),
            owner="air",
            created=air_opened - 2 * day,
            submitted=air_opened - 2 * day + 2 * hour,
            opened=air_opened,
            closes=air_opened + 182 * day,
            signers=2690,
            pending=140,
            curve=Curve(decay=3.0, bumps=((21.3, 0.4, 1.5),), floor=0.03),
            places=CAPITAL,
            updates=(
                Update(
                    air_opened + 21 * day + 5 * hour,
                    "Мы передали петицию в мэрию",
                    "Вчера мы передали текст петиции и число подписей в приёмную мэрии и "
                    "попросили о встрече с управлением по охране окружающей среды. Нам "
                    "обещали ответить в установленный законом срок.\n\n"
                    "Пока мы ждём, пожалуйста, расскажите о петиции соседям и коллегам: чем "
                    "больше подписей, тем труднее отложить этот вопрос до следующей зимы.",
                ),
            ),
            removals=(
                Removal(
                    SignatureStatus.WITHDRAWN, air_opened + 12 * day, 2, "At the signers' request."
                ),
            ),
        ),
        DemoPetition(
            draft=PetitionDraft(
                title="Ар бир айыл мектебинде балдар китепканасы болсун",
                action="Кыргыз Республикасынын Билим берүү жана илим министрлигинен ар бир "
                "айыл мектебине кыргыз тилиндеги балдар китептерин жыл сайын сатып алууга "
                "каражат бөлүүнү суранабыз.",
                background="Көптөгөн айыл мектептеринин китепканаларында балдар үчүн жаңы "
                "китептер аз, бар китептердин көбү эскирип калган.\n\n"
                "Балдар эне тилинде кызыктуу китеп окуса, окууга болгон кызыгуусу артат. Жыл "
                "сайын бир аз каражат бөлүнсө, беш жылдын ичинде ар бир мектепте жакшы "
                "китепкана түзүлөт.",
                addressee="Кыргыз Республикасынын Билим берүү жана илим министрлиги",
                signature_goal=2000,
            ),
            owner="organiser",
            created=books_opened - 3 * day,
            submitted=books_opened - 2 * day,
            opened=books_opened,
            closes=books_opened + 182 * day,
            signers=1140,
            pending=60,
            curve=Curve(decay=1.8, bumps=((6.0, 0.35, 1.0),), floor=0.05),
            places=REGIONS,
        ),
        DemoPetition(
            draft=PetitionDraft(
                title="Street lights on the road from Karakol to Jeti-Oguz",
                action="We ask the Ysyk-Köl regional administration to light the road from "
                "Karakol to Jeti-Oguz, starting with the sections that pass through villages "
                "and near schools.",
                background="People walk along this road every evening: to the bus, from "
                "work, from school. In winter it is dark by six o'clock, and there are no "
                "pavements.\n\n"
                "Street lights where the road passes through villages would make it safer "
                "for pedestrians and drivers alike.",
                addressee="Ysyk-Köl regional administration",
                signature_goal=500,
            ),
            owner="organiser",
            created=now - 2 * day,
            submitted=now - 1 * day,
        ),
    ]


# --- people ------------------------------------------------------------------------------------

#: (Latin, Cyrillic) spellings; surnames in their masculine form.
KYRGYZ_MEN = (
    ("Aibek", "Айбек"), ("Azamat", "Азамат"), ("Bakyt", "Бакыт"), ("Bolot", "Болот"),
    ("Daniyar", "Данияр"), ("Emil", "Эмиль"), ("Ermek", "Эрмек"), ("Kanat", "Канат"),
    ("Kubanychbek", "Кубанычбек"), ("Marat", "Марат"), ("Nurbek", "Нурбек"),
    ("Nurlan", "Нурлан"), ("Ruslan", "Руслан"), ("Talant", "Талант"), ("Tilek", "Тилек"),
    ("Ulan", "Улан"), ("Almaz", "Алмаз"), ("Chyngyz", "Чыңгыз"), ("Adilet", "Адилет"),
    ("Beknazar", "Бекназар"), ("Erlan", "Эрлан"), ("Medet", "Медет"), ("Samat", "Самат"),
    ("Timur", "Тимур"), ("Askar", "Аскар"), ("Bektur", "Бектур"), ("Elnur", "Элнур"),
)  # fmt: skip
KYRGYZ_WOMEN = (
    ("Aizada", "Айзада"), ("Aigerim", "Айгерим"), ("Aida", "Аида"), ("Aizhan", "Айжан"),
    ("Asel", "Асель"), ("Begimai", "Бегимай"), ("Cholpon", "Чолпон"), ("Dinara", "Динара"),
    ("Elnura", "Элнура"), ("Gulnara", "Гульнара"), ("Jyldyz", "Жылдыз"),
    ("Kanykei", "Каныкей"), ("Meerim", "Мээрим"), ("Nazira", "Назира"), ("Nurzhan", "Нуржан"),
    ("Saltanat", "Салтанат"), ("Zhibek", "Жибек"), ("Aiperi", "Айпери"),
    ("Altynai", "Алтынай"), ("Burul", "Бурул"), ("Nargiza", "Наргиза"),
    ("Perizat", "Перизат"), ("Tolgonai", "Толгонай"), ("Umut", "Үмүт"), ("Ainura", "Айнура"),
)  # fmt: skip
KYRGYZ_SURNAMES = (
    ("Abdyldaev", "Абдылдаев"), ("Asanov", "Асанов"), ("Bakirov", "Бакиров"),
    ("Dzhumabaev", "Джумабаев"), ("Esenaliev", "Эсеналиев"), ("Isakov", "Исаков"),
    ("Kadyrov", "Кадыров"), ("Mamytov", "Мамытов"), ("Osmonov", "Осмонов"),
    ("Sadykov", "Садыков"), ("Sultanov", "Султанов"), ("Toktosunov", "Токтосунов"),
    ("Usenov", "Усенов"), ("Zhusupov", "Жусупов"), ("Beishenaliev", "Бейшеналиев"),
    ("Kasymov", "Касымов"), ("Mukanbetov", "Муканбетов"), ("Omurbekov", "Өмүрбеков"),
    ("Sydykov", "Сыдыков"), ("Temirov", "Темиров"), ("Abdrakhmanov", "Абдрахманов"),
    ("Duishenov", "Дуйшенов"), ("Kurmanaliev", "Курманалиев"), ("Nurmatov", "Нурматов"),
    ("Alymkulov", "Алымкулов"), ("Tashtanov", "Таштанов"), ("Moldokulov", "Молдокулов"),
)  # fmt: skip
RUSSIAN_MEN = (
    ("Aleksandr", "Александр"), ("Dmitry", "Дмитрий"), ("Sergey", "Сергей"),
    ("Andrey", "Андрей"), ("Ivan", "Иван"), ("Pavel", "Павел"), ("Oleg", "Олег"),
    ("Mikhail", "Михаил"), ("Vladimir", "Владимир"), ("Artyom", "Артём"), ("Denis", "Денис"),
    ("Igor", "Игорь"), ("Viktor", "Виктор"), ("Maksim", "Максим"),
)  # fmt: skip
RUSSIAN_WOMEN = (
    ("Anna", "Анна"), ("Elena", "Елена"), ("Olga", "Ольга"), ("Natalia", "Наталья"),
    ("Irina", "Ирина"), ("Tatiana", "Татьяна"), ("Svetlana", "Светлана"), ("Yulia", "Юлия"),
    ("Maria", "Мария"), ("Ekaterina", "Екатерина"), ("Viktoria", "Виктория"),
    ("Ksenia", "Ксения"), ("Lyudmila", "Людмила"),
)  # fmt: skip
RUSSIAN_SURNAMES = (
    ("Ivanov", "Иванов"), ("Petrov", "Петров"), ("Smirnov", "Смирнов"),
    ("Kuznetsov", "Кузнецов"), ("Popov", "Попов"), ("Sokolov", "Соколов"),
    ("Morozov", "Морозов"), ("Volkov", "Волков"), ("Lebedev", "Лебедев"),
    ("Kozlov", "Козлов"), ("Novikov", "Новиков"), ("Fedorov", "Фёдоров"),
    ("Pavlov", "Павлов"), ("Belov", "Белов"), ("Kovalenko", "Коваленко"),
    ("Tkachenko", "Ткаченко"), ("Kim", "Ким"), ("Tsoi", "Цой"), ("Li", "Ли"),
)  # fmt: skip
UZBEK_MEN = (
    ("Dilshod", "Дилшод"), ("Bakhodir", "Баходир"), ("Sherzod", "Шерзод"),
    ("Rustam", "Рустам"), ("Farrukh", "Фаррух"), ("Otabek", "Отабек"),
)  # fmt: skip
UZBEK_WOMEN = (
    ("Nodira", "Нодира"), ("Gulnoza", "Гулноза"), ("Dilnoza", "Дилноза"),
    ("Malika", "Малика"), ("Zarina", "Зарина"), ("Feruza", "Феруза"),
)  # fmt: skip
UZBEK_SURNAMES = (
    ("Karimov", "Каримов"), ("Rakhimov", "Рахимов"), ("Yusupov", "Юсупов"),
    ("Mirzaev", "Мирзаев"), ("Khaidarov", "Хайдаров"), ("Tursunov", "Турсунов"),
)  # fmt: skip
#: Names by origin: (men, women, surnames, share of the names written in Cyrillic).
NAME_ORIGINS = {
    "kyrgyz": (KYRGYZ_MEN, KYRGYZ_WOMEN, KYRGYZ_SURNAMES, 0.55),
    "russian": (RUSSIAN_MEN, RUSSIAN_WOMEN, RUSSIAN_SURNAMES, 0.85),
    "uzbek": (UZBEK_MEN, UZBEK_WOMEN, UZBEK_SURNAMES, 0.6),
}
#: Where people of each origin are more or less likely to sign from (weights).
_ORIGINS_DEFAULT = (("kyrgyz", 82.0), ("russian", 14.0), ("uzbek", 4.0))
_ORIGINS_BY_REGION = {
    "Bishkek": (("kyrgyz", 66.0), ("russian", 30.0), ("uzbek", 4.0)),
    "Chüy": (("kyrgyz", 60.0), ("russian", 36.0), ("uzbek", 4.0)),
    "Osh": (("kyrgyz", 68.0), ("russian", 4.0), ("uzbek", 28.0)),
    "Osh Shaary": (("kyrgyz", 55.0), ("russian", 7.0), ("uzbek", 38.0)),
    "Jalal-Abad": (("kyrgyz", 70.0), ("russian", 5.0), ("uzbek", 25.0)),
    "Naryn": (("kyrgyz", 98.0), ("russian", 2.0)),
    "Talas": (("kyrgyz", 95.0), ("russian", 5.0)),
}


def _feminine(surname: str) -> str:
    """Asanov -> Asanova, Асанов -> Асанова; Kim, Kovalenko stay as they are."""
    if surname.endswith(("ov", "ev")):
        return surname + "a"
    if surname.endswith(("ов", "ев", "ёв")):
        return surname + "а"
    return surname


class People:
    """Plausible signers: a name as they would type it and an address unique per petition."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.addresses: set[str] = set()

    def new_petition(self) -> None:
        """The same person may sign several petitions; an address is unique per petition."""
        self.addresses = set()

    def person(self, region: str) -> tuple[str, str]:
        """(name, email address) of someone who signs from `region`."""
        rng = self.rng
        origins = _ORIGINS_BY_REGION.get(region.replace(" city", ""), _ORIGINS_DEFAULT)
        origin = rng.choices([o for o, _ in origins], [w for _, w in origins])[0]
        men, women, surnames, cyrillic_share = NAME_ORIGINS[origin]
        woman = rng.random() < 0.54
        first = rng.choice(women if woman else men)
        last = rng.choice(surnames)
        last = (_feminine(last[0]), _feminine(last[1])) if woman else last
        script = 1 if rng.random() < cyrillic_share else 0
        if origin == "kyrgyz" and rng.random() < 0.08:  # "Azamat Bolot uulu", "Aizhan Talant kyzy"
            father = rng.choice(KYRGYZ_MEN)
            suffix = ("kyzy", "кызы") if woman else ("uulu", "уулу")
            name = f"{first[script]} {father[script]} {suffix[script]}"
            last = (f"{father[0]}{suffix[0]}", "")
        else:
            name = f"{first[script]} {last[script]}"
        return name, self._address(first[0].lower(), last[0].lower())

    def _address(self, first: str, last: str) -> str:
        rng = self.rng
        pattern = rng.randrange(4)
        if pattern == 0:
            local = f"{first}.{last}"
        elif pattern == 1:
            number = rng.randint(70, 99) if rng.random() < 0.6 else rng.randint(1, 999)
            local = f"{first}{last}{number}"
        elif pattern == 2:
            local = f"{first[0]}.{last}"
        else:
            local = f"{first}_{last[:4]}{rng.randint(1, 9999)}"
        domain = rng.choices([d for d, _ in EMAIL_DOMAINS], [w for _, w in EMAIL_DOMAINS])[0]
        address = f"{local}@{domain}"
        # Lower-case ASCII without +tags: each address is its own canonical form
        # (emailaddr.normalise_for_identity), so distinct addresses have distinct email keys.
        while address in self.addresses:
            address = f"{local}{rng.randint(1, 99999)}@{domain}"
        self.addresses.add(address)
        return address


# --- when people sign --------------------------------------------------------------------------


def _moment(rng: random.Random, day_start: datetime) -> datetime:
    """A moment of the local day that starts at `day_start`, busier by day than by night."""
    hour = bisect.bisect_left(_HOUR_CUMULATIVE, rng.random() * _HOUR_CUMULATIVE[-1])
    return day_start + timedelta(hours=hour, seconds=rng.random() * 3600)


def signing_times(
    rng: random.Random, count: int, start: datetime, end: datetime, curve: Curve
) -> list[datetime]:
    """`count` moments between `start` and `end` following `curve` day by day, sorted."""
    first_day = datetime.combine(start.astimezone(BISHKEK).date(), datetime.min.time(), BISHKEK)
    days = max(1, math.ceil((end - first_day) / timedelta(days=1)))
    weights = [curve.weight(d) for d in range(days)]
    times = []
    for day in rng.choices(range(days), weights, k=count):
        day_start = first_day + timedelta(days=day)
        for _ in range(50):
            moment = _moment(rng, day_start)
            if start <= moment < end:
                break
        else:  # a day mostly outside [start, end): any moment of the part inside
            low, high = max(start, day_start), min(end, day_start + timedelta(days=1))
            moment = low + (high - low) * rng.random()
        times.append(moment.astimezone(UTC))
    return sorted(times)


def confirmation_delay(rng: random.Random) -> timedelta:
    """Most people click the link within minutes; some the next day."""
    return timedelta(seconds=min(rng.lognormvariate(math.log(240), 1.3), 2 * 86400))


# --- writing it all ----------------------------------------------------------------------------


@dataclass
class SeededPetition:
    id: int
    title: str
    state: str
    #: The public total: confirmed signatures.
    total: int


@dataclass
class SeedReport:
    petitions: list[SeededPetition] = field(default_factory=list)
    signatures: Counter = field(default_factory=Counter)
    #: Demo accounts created (existing ones with the same address are used as they are).
    accounts: list[DemoAccount] = field(default_factory=list)


def _accounts(session: Session, report: SeedReport) -> dict[str, int]:
    """The demo accounts' ids by key, creating those that do not exist yet."""
    demo_hash = None
    ids = {}
    for key, account in ACCOUNTS.items():
        existing = find_by_email(session, account.email)
        if existing is not None:
            ids[key] = existing.id
            continue
        if account.can_log_in and demo_hash is None:
            demo_hash = hash_password(DEMO_PASSWORD)
        user = User(
            email=account.email,
            email_canonical=normalise_for_identity(account.email),
            password_hash=demo_hash if account.can_log_in else NO_PASSWORD,
            display_name=account.display_name,
            role=account.role,
            created_at=_utc(2021, 12, 1, 9, 0),
            email_confirmed_at=_utc(2021, 12, 1, 9, 5),
            failed_logins=0,
            credentials_version=1,
        )
        session.add(user)
        session.flush()
        ids[key] = user.id
        report.accounts.append(account)
    return ids


@dataclass
class _Row:
    """A signature being made up, before it has an id."""

    values: dict
    #: When it was counted (confirmed), for milestones and snapshots; None if never.
    counted_at: datetime | None
    removed_at: datetime | None = None


def _signature(
    people: People,
    rng: random.Random,
    *,
    petition_id: int,
    hash_key: str,
    place: tuple[str, str, float],
    created: datetime,
    confirmed: datetime | None,
    sponsor: bool = False,
) -> _Row:
    country, region, _ = place
    name, email = people.person(region)
    wants_updates = rng.random() < 0.35
    return _Row(
        {
            "petition_id": petition_id,
            "email_key": identity_key(email, hash_key),
            # Kept after confirmation only for updates, as services/signing.py does.
            "email": email if confirmed is None or wants_updates else None,
            "name": name,
            "country": country,
            "region": region or None,
            "wants_updates": wants_updates,
            "share_email": False,
            "show_name": sponsor or rng.random() < 0.4,
            "is_sponsor": sponsor,
            "consented_at": created,
            "status": SignatureStatus.PENDING if confirmed is None else SignatureStatus.CONFIRMED,
            "created_at": created,
            "confirmed_at": confirmed,
            "removed_at": None,
            "confirmation_sends": 1,
            "last_confirmation_sent_at": created,
            "already_signed_notices": 0,
        },
        counted_at=confirmed,
    )


def _rows(
    spec: DemoPetition,
    petition_id: int,
    *,
    now: datetime,
    rng: random.Random,
    people: People,
    hash_key: str,
    sponsors: int,
) -> tuple[list[_Row], datetime | None]:
    """A petition's signatures, oldest first, and when its last sponsor confirmed."""
    people.new_petition()
    places = spec.places or NATIONWIDE
    place_weights = [w for _, _, w in places]

    def signature(created: datetime, confirmed: datetime | None, sponsor: bool = False) -> _Row:
        return _signature(
            people,
            rng,
            petition_id=petition_id,
            hash_key=hash_key,
            place=rng.choices(places, place_weights)[0],
            created=created,
            confirmed=confirmed,
            sponsor=sponsor,
        )

    rows: list[_Row] = []
    # Sponsors: supporters the organiser asked first, through the share link.
    window = ((spec.opened or now) - spec.submitted) * 0.6
    for n in range(sponsors):
        created = spec.submitted + window * (n + rng.random()) / (sponsors + 1)
        confirmed = created + timedelta(minutes=2 + 20 * rng.random())
        rows.append(signature(created, confirmed, sponsor=True))
    last_sponsor = max((r.counted_at for r in rows), default=None)
    if spec.opened is None:
        return rows, last_sponsor
    end = spec.closed or now
    removed = sum(r.count for r in spec.removals)
    for created in signing_times(rng, spec.signers + removed, spec.opened, end, spec.curve):
        confirmed = created + confirmation_delay(rng)
        if confirmed >= end:
            confirmed = created + (end - created) * rng.random()
        rows.append(signature(created, confirmed))
    # Signed lately and not confirmed (yet): younger than the worker's purge of such rows.
    recent = max(spec.opened, now - timedelta(days=3))
    for created in signing_times(rng, spec.pending, recent, now, Curve(decay=99.0)):
        rows.append(signature(created, None))
    rows.sort(key=lambda row: row.values["created_at"])
    _remove(rows, spec.removals, rng)
    return rows, last_sponsor


def _remove(rows: list[_Row], removals: Sequence[Removal], rng: random.Random) -> None:
    """Mark some signatures confirmed before each removal as removed then, as
    services/removal.py would: the address erased, no more updates."""
    for removal in removals:
        candidates = [
            row
            for row in rows
            if row.values["status"] == SignatureStatus.CONFIRMED
            and not row.values["is_sponsor"]
            and row.counted_at < removal.at
        ]
        for row in rng.sample(candidates, removal.count):
            row.values.update(
                status=removal.status, removed_at=removal.at, email=None, wants_updates=False
            )
            row.removed_at = removal.at


def _insert_signatures(session: Session, rows: list[_Row]) -> None:
    """Bulk insert in chunks: one executemany of the table's INSERT per chunk.

    Not the ORM's bulk insert (`insert(Signature)`): it leaves out the NULL columns of each
    row and runs one statement per run of rows with the same NULLs, thousands here (15 s on
    PostgreSQL instead of 2). No RETURNING either: the shards are counted from the table.
    """
    for start in range(0, len(rows), CHUNK):
        chunk = [row.values for row in rows[start : start + CHUNK]]
        session.execute(insert(Signature.__table__), chunk)


def _count_shards(session: Session, petition_id: int, shards: int) -> int:
    """The petition's count shards from its confirmed rows as stored, with the rule of
    services/counts.py (every shard row written, as `counts reconcile --repair` would);
    returns the total."""
    confirmed = session.scalars(
        select(Signature.id).where(
            Signature.petition_id == petition_id, Signature.status == SignatureStatus.CONFIRMED
        )
    )
    per_shard = Counter(shard_for(signature_id, shards) for signature_id in confirmed)
    session.execute(
        insert(CountShard),
        [
            {"petition_id": petition_id, "shard": n, "count": per_shard.get(n, 0)}
            for n in range(shards)
        ],
    )
    return sum(per_shard.values())


def _milestones(
    session: Session, petition: Petition, counted: list[datetime], thresholds: Sequence[int]
) -> None:
    """The totals passed, as the worker would have recorded them (within a minute of the
    confirmation that crossed the line), so it does not email the organiser about them now."""
    reached = [(MilestoneKind.COUNT, t) for t in sorted(set(thresholds)) if t > 0]
    if petition.signature_goal:
        reached.append((MilestoneKind.GOAL, petition.signature_goal))
    rows = [
        {
            "petition_id": petition.id,
            "kind": kind.value,
            "threshold": threshold,
            "reached_at": counted[threshold - 1] + timedelta(seconds=40),
        }
        for kind, threshold in reached
        if threshold <= len(counted)
    ]
    if rows:
        session.execute(insert(PetitionMilestone), rows)


@dataclass
class _History:
    """What the daily snapshots need of a petition: when it opened and closed, and when each
    signature was counted and taken out again."""

    petition_id: int
    opened: datetime
    closed: datetime | None
    counted: list[datetime]
    removed: list[datetime]


def _daily_counts(session: Session, histories: list[_History], now: datetime) -> int:
    """Snapshots of the last SNAPSHOT_DAYS days before today, as the worker records them in its
    first round of each UTC day (services/opendata.record_daily_counts); it records today's."""
    today = now.astimezone(UTC).date()
    rows = []
    for back in range(SNAPSHOT_DAYS, 0, -1):
        day: date = today - timedelta(days=back)
        recorded = datetime.combine(day, datetime.min.time(), UTC) + timedelta(seconds=35)
        for history in histories:
            if recorded < history.opened:
                continue
            removed = bisect.bisect_right(history.removed, recorded)
            rows.append(
                {
                    "day": day,
                    "petition_id": history.petition_id,
                    "state": PetitionState.CLOSED
                    if history.closed and history.closed <= recorded
                    else PetitionState.OPEN,
                    "signature_count": bisect.bisect_right(history.counted, recorded) - removed,
                    "signatures_removed": removed,
                    "recorded_at": recorded,
                }
            )
    if rows:
        session.execute(insert(DailyCount), rows)
    return len(rows)


def _events(
    session: Session,
    spec: DemoPetition,
    petition: Petition,
    *,
    owner_id: int,
    moderator_id: int,
    sponsors: int,
) -> None:
    """The lifecycle as the moderation log shows it; updates and the response with theirs."""

    def log(action: EventAction, at: datetime, actor_id: int | None, **extra) -> None:
        log_event(session, petition.id, action, actor_id=actor_id, now=at, **extra)

    log(EventAction.CREATED, spec.created, owner_id)
    log(EventAction.SUBMITTED, spec.submitted, owner_id)
    if petition.moderation_requested_at:
        log(
            EventAction.ENTERED_MODERATION,
            petition.moderation_requested_at,
            None,
            details={"sponsors": sponsors},
        )
    if spec.opened:
        log(
            EventAction.APPROVED,
            spec.opened,
            moderator_id,
            details={"closes_at": spec.closes.isoformat(timespec="seconds")},
        )
    for update in spec.updates:
        posted = PetitionUpdate(
            petition_id=petition.id,
            author_id=owner_id,
            title=update.title,
            body=update.body,
            created_at=update.at,
            mail_after=None,  # the email to signers went out long ago
        )
        session.add(posted)
        session.flush()
        log(
            EventAction.UPDATE_POSTED,
            update.at,
            owner_id,
            note=update.title,
            details={"update_id": posted.id},
        )
    for removal in spec.removals:
        log(
            EventAction.SIGNATURES_REMOVED,
            removal.at,
            moderator_id if removal.by_moderator else None,
            reason=str(removal.status),
            note=removal.note,
            details={"count": removal.count},
        )
    if spec.closed_by == "organiser":
        log(EventAction.CLOSED, spec.closed, owner_id, details={"early": True, "by": "organiser"})
    elif spec.closed_by == "deadline":
        log(EventAction.CLOSED, spec.closed, None, details={"by": "deadline"})
    if spec.response:
        log(EventAction.RESPONSE, spec.response[0], moderator_id, note=spec.response[1])


def seed(session: Session, config: Mapping, *, now: datetime) -> SeedReport:
    """Write the demo accounts, petitions and signatures; flushes, the caller commits.

    Refuses (RuntimeError) in production: the demo accounts' password is public.
    """
    if config.get("PETITIONS_ENV") == "production":
        raise RuntimeError("demo data is never seeded in production")
    rng = random.Random(SEED)  # noqa: S311 - made-up data, not a secret
    people = People(rng)
    report = SeedReport()
    accounts = _accounts(session, report)
    sponsors = config["SPONSORS_REQUIRED"]
    histories = []
    for spec in demo_petitions(now):
        petition = Petition(
            **cleaned_fields(spec.draft),
            state=spec.state,
            owner_id=accounts[spec.owner],
            created_at=spec.created,
            submitted_at=spec.submitted,
            opened_at=spec.opened,
            closes_at=spec.closes,
            closed_at=spec.closed,
            response_text=spec.response[1] if spec.response else None,
            response_at=spec.response[0] if spec.response else None,
            # The emails about the response and the closing went out at the time.
            response_mail_after=None,
            closing_mail_after=None,
        )
        session.add(petition)
        session.flush()
        rows, last_sponsor = _rows(
            spec,
            petition.id,
            now=now,
            rng=rng,
            people=people,
            hash_key=config["SIGNER_HASH_KEY"],
            sponsors=sponsors,
        )
        petition.moderation_requested_at = last_sponsor or spec.submitted
        _insert_signatures(session, rows)
        total = _count_shards(session, petition.id, config["COUNT_SHARDS"])
        counted = sorted(row.counted_at for row in rows if row.counted_at)
        _milestones(session, petition, counted, config["MILESTONES"])
        _events(
            session,
            spec,
            petition,
            owner_id=accounts[spec.owner],
            moderator_id=accounts["moderator"],
            sponsors=sponsors,
        )
        if spec.opened:
            histories.append(
                _History(
                    petition.id,
                    spec.opened,
                    spec.closed,
                    counted,
                    sorted(row.removed_at for row in rows if row.removed_at),
                )
            )
        report.petitions.append(SeededPetition(petition.id, petition.title, petition.state, total))
        report.signatures.update(row.values["status"] for row in rows)
    _daily_counts(session, histories, now)
    session.flush()
    logger.info(
        "demo data seeded: %d petitions, %d signatures",
        len(report.petitions),
        sum(report.signatures.values()),
    )
    return report


__all__ = ["ACCOUNTS", "DEMO_PASSWORD", "SeedReport", "demo_petitions", "seed"]
