"""The city-day's traffic: eight city chats of mixed Russian, Kazakh and English chatter, and the tagged
complaints among it (with edits, redeliveries, resends and "me too" repeats), for `bench.city_day`."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.config import Config
from bot.core.mentions import MentionDetector
from tests.fakes.bot_api import FakeBotAPI

# (chat id, title, public username or None, share of the day's messages)
CHATS = [
    (-1001999000111, "Астана | жители", "astana_zhiteli", 0.30),
    (-1001999000112, "Сарыарка район — соседи", None, 0.14),
    (-1001999000113, "Есиль / левый берег чат", "esil_chat", 0.14),
    (-1001999000114, "ЖК Highvill | жильцы", None, 0.10),
    (-1001999000115, "Алматы ауданы тұрғындары", None, 0.10),
    (-1001999000116, "Нура онлайн", "nura_online", 0.08),
    (-1001999000117, "Astana Expats", "astana_expats", 0.07),
    (-1001999000118, "Байконур родители", None, 0.07),
]

FIRST_NAMES = [
    *("Айгерим", "Ерлан", "Динара", "Нурлан", "Асель", "Тимур", "Жанна", "Бауыржан", "Мадина", "Арман"),
    *("Ольга", "Сергей", "Наталья", "Дмитрий", "Елена", "Алексей", "Гульнара", "Данияр", "Сауле", "Кайрат"),
    *("Aruzhan", "Alikhan", "Dana", "John", "Maria", "Aisulu", "Yerzhan", "Kamila", "Miras", "Zarina"),
]
LAST_NAMES = [None, None, "К.", "С.", "Ахметова", "Иванов", "Сейткали", "Smith", "Омаров", "Жумабаева"]

# --- chatter: what a city chat is mostly made of (never stored) ------------------------------------------

CHATTER_OPENERS = [
    *("", "", "", "Всем привет! ", "Добрый вечер, соседи. ", "Сәлеметсіздер ме! ", "Hi all, "),
    *("Ребята, ", "Қайырлы таң! ", "Кто знает, ", "Подскажите, ", "Айтыңызшы, ", "Quick question: "),
]
CHATTER_BODIES = [
    "где поблизости хороший стоматолог?",
    "кто-нибудь видел рыжего кота у третьего подъезда?",
    "продам детскую коляску, почти новая, недорого",
    "во сколько открывается ЦОН в субботу?",
    "сегодня морозно, одевайтесь теплее",
    "ертең жиналыс бар ма?",
    "бүгін кешке футбол қарайсыңдар ма?",
    "кім балабақшаға кезекке тұрды, қанша күттіңіздер?",
    "does anyone know a good English-speaking pediatrician?",
    "is the ice rink in the park open this weekend?",
    "отдам даром книги, самовывоз",
    "спасибо всем, кто помог с переездом!",
    "какой интернет-провайдер лучше в нашем доме?",
    "нашла ключи у детской площадки, пишите в личку",
    "кто едет на концерт в пятницу?",
    "сатамын: балалар велосипеді, жақсы күйде",
    "anyone selling winter tyres?",
    "поздравляю всех с праздником!",
    "мешок картошки, кто возьмёт? свежая, с дачи",
    "ищу репетитора по математике для сына",
    "қандай мектеп жақсы, ақыл беріңіздер",
    "does the bus to the airport still stop near the mall?",
    "Happy New Year everyone 🎄🎉",
    "😂😂😂",
    "👍",
    "согласна",
    "дұрыс айтасыз",
    "вчера был отличный салют, видели?",
    "кто в курсе, скоро откроют новый ТРЦ?",
    "лучший шашлык в городе — где?",
]
CHATTER_CLOSERS = ["", "", "", " Спасибо!", " Рахмет!", " Thanks!", " 🙏", " 😊", " заранее спасибо", " 🙂"]
LONG_CHATTER = (
    "Хочу рассказать историю. Вчера вечером шли с детьми из садика, увидели, как соседи вместе "
    "собирают деньги на новую горку во двор. Очень приятно, что люди у нас такие дружные. "
    "Давайте и весной устроим субботник, посадим деревья, покрасим лавочки. Кто за? "
)

# --- complaints: every category, in Russian, Kazakh, English and mixed; {a} is a unique address -------------

COMPLAINTS = {
    "ru": [
        "третий день нет отопления, батареи ледяные, {a}",
        "в квартире холодно, отопление еле тёплое, дети мёрзнут, {a}",
        "нет горячей воды с утра, {a}",
        "из крана идёт ржавая вода уже неделю, {a}",
        "прорвало трубу во дворе, всё затопило, {a}",
        "огромная яма на дороге, пробили колесо, {a}",
        "разбитый асфальт, ямы по колено, {a}",
        "не работает светофор на перекрёстке, {a}",
        "мусор не вывозят неделю, контейнеры переполнены, {a}",
        "стихийная свалка за домом, крысы бегают, {a}",
        "нет света во всём подъезде, {a}",
        "фонари во дворе не горят уже месяц, темно и страшно, {a}",
        "двор не чистят от снега, машины не могут выехать, {a}",
        "огромные сосульки над входом в подъезд, опасно, {a}",
        "в подъезде не работает лифт, ОСИ не отвечает, {a}",
        "течёт крыша, квартиру заливает после каждого дождя, {a}",
        "стая бродячих собак у школы, дети боятся ходить, {a}",
        "ночью шум и драка во дворе, никто не реагирует, {a}",
        "детская площадка сломана, качели оторваны, {a}",
        "стройка шумит по ночам, спать невозможно, {a}",
        "пахнет газом в подъезде, {a}",
        "автобус на остановке не ходит по расписанию, ждали почти час, {a}",
        "ямочный ремонт сделали плохо, асфальт уже раскрошился, {a}",
        "на остановке нет навеса и лавочки, {a}",
        "в сквере сломаны скамейки и урны, {a}",
        "тротуар разбит, с коляской не пройти, {a}",
        "во дворе после ремонта теплотрассы так и не восстановили газон, {a}",
        "мусорные баки стоят прямо у окон, запах ужасный, {a}",
        "в подъезде не убирают, грязь и окурки, {a}",
        "напор холодной воды очень слабый по вечерам, {a}",
        "разметку на дороге не обновляли, пешеходный переход не видно, {a}",
        "вечером во дворе не горит ни один фонарь, {a}",
    ],
    "kk": [
        "{a} жылу жоқ, батареялар суық, балалар тоңып жатыр",
        "{a} ыстық су жоқ, үшінші күн",
        "{a} жолда үлкен шұңқыр бар, көлік дөңгелегі жарылды",
        "{a} қоқыс шығарылмай жатыр, контейнерлер толып кетті",
        "{a} жарық жоқ, подъезд қараңғы",
        "{a} аулада қар тазаланбаған, көлікпен шыға алмаймыз",
        "{a} лифт жұмыс істемейді, қарт адамдар үйден шыға алмайды",
        "{a} шатырдан су ағып жатыр, пәтерді су басты",
        "{a} иесіз иттер балаларға шабуыл жасап жүр",
        "{a} көше шамдары жанбайды, кешке қараңғы",
        "{a} аялдамада орындық жоқ, күтетін жер жоқ",
        "{a} тротуар бұзылған, балалар арбасымен жүру қиын",
        "{a} подъезд тазаланбайды, лас",
        "{a} саябақтағы орындықтар сынған",
    ],
    "en": [
        "no heating for three days at {a}, the radiators are cold",
        "huge pothole at {a}, my car tyre burst",
        "garbage has not been collected for a week at {a}, bins overflowing",
        "no hot water since the morning at {a}",
        "street lights are out near {a}, it is pitch dark",
        "the lift has been broken for a week at {a}",
        "stray dogs chasing kids near the school at {a}",
        "the sidewalk at {a} is broken, hard to walk with a stroller",
        "the benches in the park near {a} are broken",
        "the bus stop at {a} has no shelter",
    ],
    "mixed": [
        "{a} свет жоқ already second day, балалар сабақ оқи алмайды",
        "{a} ыстық су жоқ, вообще никакой реакции от ОСИ",
        "{a} қоқыс не вывозят, везде мусор, please do something",
        "{a} яма на дороге, жол бұзылған, колесо пробил",
    ],
}
ADDRESSES = {
    "ru": ["ул. {s}, дом {n}", "{s}, {n}", "{s} {n}"],
    "kk": ["{s} көшесі, {n} үй", "{s} {n} үйдің жанында"],
    "en": ["{n} {s} street", "building {n} on {s} street"],
    "mixed": ["{s} көшесі, дом {n},", "{s} {n} үй,"],
}
STREETS = [
    *("Кенесары", "Абая", "Сейфуллина", "Кабанбай батыра", "Туран", "Мангилик Ел", "Жубанова", "Иманова"),
    *("Республики", "Бейбитшилик", "Ауэзова", "Сарайшык", "Достык", "Момышулы", "Петрова", "Богенбай батыра"),
]
DISTRICT_PHRASES = ["", "", "", " в Сарыаркинском районе", " на левом берегу", " Нұра ауданы", " в Байконуре"]
OPENERS = ["", "", "", "Срочно! ", "Помогите, ", "Уважаемый аким, ", "Құрметті әкім, ", "Dear akim, "]
CLOSERS = ["", "", "", " когда решат?", " 😡", " сколько можно?!", " жауап беріңіздерші", " please help"]
TAGS = [
    *("@akim_astana", "@akim_astana", "@akim_astana", "@zamakim_zhkh", "@akim_saryarka", "@akim_esil"),
    *("Касымбек", "аким Астаны", "Қасымбек"),
]
ME_TOO = ["+ у нас то же самое:", "поддерживаю, у нас тоже", "бізде де солай:", "same here:"]
EDIT_SUFFIXES = [" UPD: до сих пор не сделали", " UPD: әлі жөнделген жоқ", " UPD: still not fixed"]


# --- the day's traffic -------------------------------------------------------------------------------------


@dataclass
class Planned:
    """One update to offer, and what it is for the checks."""

    update: dict[str, Any]
    tagged_key: tuple[int, int] | None = None  # (chat id, message id) of a tagged complaint's first update
    kind: str = "chatter"  # chatter | chatter_edit | tagged | edit | redelivery | resend | repeat


@dataclass
class Traffic:
    """The day, in the order it is offered, with counts for the report."""

    plan: list[Planned] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    planned_merges: int = 0


def _message_texts(rng: random.Random, lang: str, number: int) -> str:
    address = rng.choice(ADDRESSES[lang]).format(s=rng.choice(STREETS), n=number)
    body = rng.choice(COMPLAINTS[lang]).format(a=address)
    return body + rng.choice(DISTRICT_PHRASES) + rng.choice(CLOSERS)


def _with_tag(rng: random.Random, body: str) -> str:
    tag = rng.choice(TAGS)
    opener = rng.choice(OPENERS)
    return f"{tag} {opener}{body}" if rng.random() < 0.6 else f"{opener}{body} {tag}"


def build_traffic(
    fake: FakeBotAPI, config: Config, classify: Callable[[str], Any], messages: int, tagged: int, seed: int
) -> Traffic:
    """Generate the day: `messages` distinct chat messages of which `tagged` are complaints the configured
    classifier accepts (every other message tags no one), plus edits, redeliveries and resends."""
    rng = random.Random(seed)
    detector = MentionDetector(config.officials)
    chat_ids = [chat for chat, *_ in CHATS]
    weights = [share for *_, share in CHATS]
    senders = [
        {"id": 7_000_000 + n, "is_bot": False, "first_name": rng.choice(FIRST_NAMES)}
        | ({"last_name": last} if (last := rng.choice(LAST_NAMES)) else {})
        | ({"username": f"resident_{n}"} if rng.random() < 0.4 else {})
        | {"language_code": rng.choice(["ru", "ru", "kk", "en"])}
        for n in range(20_000)
    ]
    # one address number per complaint: two different complaints are never merged by chance
    numbers = rng.sample(range(1, 100_000), tagged)

    # the tagged complaints first (the classifier filters them), then placed at random points of the day
    complaints: list[tuple[str, dict[str, Any]]] = []  # (text, its verdict as the bot will see it)
    languages = ["ru"] * 55 + ["kk"] * 20 + ["en"] * 10 + ["mixed"] * 15
    repeats_wanted = tagged * 3 // 100
    while len(complaints) < tagged - repeats_wanted:
        number = numbers[len(complaints)]
        text_ = _with_tag(rng, _message_texts(rng, rng.choice(languages), number))
        verdict = classify(text_)
        if verdict.complaint and detector.detect_text(text_):
            complaints.append((text_, {"category": verdict.category, "district": verdict.district}))
    repeats: list[tuple[str, int]] = []  # (text, index of the complaint it repeats)
    attempts = 0
    # complaints sit at sorted positions: the first 90% leave room for a repeat later in the day
    repeatable = max(1, len(complaints) * 9 // 10)
    while len(complaints) + len(repeats) < tagged:
        attempts += 1
        index = rng.randrange(repeatable)
        original, verdict = complaints[index]
        core = original
        for tag in TAGS:
            core = core.replace(tag, "").strip()
        text_ = f"{rng.choice(TAGS)} {rng.choice(ME_TOO)} {core}"
        again = classify(text_)
        same = again.complaint and again.category == verdict["category"]
        same = same and again.district == verdict["district"]
        if (same and detector.detect_text(text_)) or attempts > 50 * tagged:
            repeats.append((text_, index))

    def chatter_text() -> str:
        while True:
            if rng.random() < 0.03:
                body = LONG_CHATTER * rng.randint(1, 6)
            else:
                body = rng.choice(CHATTER_OPENERS) + rng.choice(CHATTER_BODIES) + rng.choice(CHATTER_CLOSERS)
            if not detector.detect_text(body):
                return body

    # positions: complaints spread over the day; a repeat comes after the complaint it repeats
    slots = sorted(rng.sample(range(messages), tagged))
    complaint_slots = slots[: len(complaints)]
    order: dict[int, tuple[str, Any]] = {}
    for slot, (text_, _) in zip(complaint_slots, complaints, strict=True):
        order[slot] = ("tagged", text_)
    late_slots = [s for s in range(messages) if s not in order]
    rng.shuffle(late_slots)
    slot_of_complaint = dict(enumerate(complaint_slots))
    gap = min(500, messages // 10)  # a repeat comes minutes later in the day
    for text_, index in repeats:
        after = slot_of_complaint[index]
        slot = next((s for s in late_slots if s > after + gap), None) or max(late_slots)
        late_slots.remove(slot)
        order[slot] = ("repeat", text_)

    traffic = Traffic()
    later: dict[int, list[Planned]] = {}  # edits and resends, due at a later position

    def sender() -> dict[str, Any]:
        return rng.choice(senders)

    for position in range(messages):
        for due in later.pop(position, []):
            traffic.plan.append(due)
            traffic.counts[due.kind] += 1
        kind, text_ = order.get(position, ("chatter", None))
        chat = rng.choices(chat_ids, weights)[0]
        if kind == "chatter":
            photo = rng.random() < 0.02
            body = chatter_text()
            update = (
                fake.message_update(chat, caption=body, photo=True, from_user=sender())
                if photo
                else fake.message_update(chat, body, from_user=sender())
            )
            traffic.plan.append(Planned(update))
            traffic.counts["chatter"] += 1
            if rng.random() < 0.01:  # an edited chat message: dropped like the original
                message = update["message"]
                edit = fake.message_update(
                    chat, body + "!", from_user=message["from"], message_id=message["message_id"], edited=True
                )
                at = position + rng.randint(5, 200)
                later.setdefault(at, []).append(Planned(edit, kind="chatter_edit"))
            continue
        photo = rng.random() < 0.10
        who = sender()
        update = (
            fake.message_update(chat, caption=text_, photo=True, from_user=who)
            if photo
            else fake.message_update(chat, text_, from_user=who)
        )
        message = update["message"]
        key = (chat, message["message_id"])
        traffic.plan.append(Planned(update, tagged_key=key, kind=kind))
        traffic.counts[kind] += 1
        traffic.counts["tagged_with_photo"] += photo
        if kind == "repeat":
            traffic.planned_merges += 1
            continue
        roll = rng.random()
        if roll < 0.02:  # the resident edits the complaint a little later
            edited = text_ + rng.choice(EDIT_SUFFIXES)
            if classify(edited).complaint:
                edit = fake.message_update(
                    chat,
                    None if photo else edited,
                    caption=edited if photo else None,
                    photo=photo,
                    from_user=who,
                    message_id=message["message_id"],
                    edited=True,
                )
                later.setdefault(position + rng.randint(200, 3000), []).append(Planned(edit, kind="edit"))
        elif roll < 0.03:  # Telegram delivers the same update (same update id, set when offered) twice
            traffic.plan.append(Planned(update, kind="redelivery"))
            traffic.counts["redelivery"] += 1
        elif roll < 0.035:  # the same message again under a new update id
            resend = json.loads(json.dumps(update))  # a copy, offered before it has an update id
            later.setdefault(position + rng.randint(1, 50), []).append(Planned(resend, kind="resend"))
    for position in sorted(later):
        for due in later[position]:
            traffic.plan.append(due)
            traffic.counts[due.kind] += 1
    traffic.counts["distinct_messages"] = traffic.counts["chatter"] + traffic.counts["tagged"]
    traffic.counts["distinct_messages"] += traffic.counts["repeat"]
    return traffic
