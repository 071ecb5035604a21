"""Mention detection: @usernames, text_mentions, replies and inflected aliases in Russian and Kazakh."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import LocalizedName, OfficialConfig, load_config
from bot.core.events import Chat, Entity, IncomingMessage, ReplyTo, User, parse_update
from bot.core.mentions import Mention, MentionDetector
from bot.core.text import utf16_len
from tests.conftest import EXAMPLE_CONFIG


def official(
    official_id: str,
    *,
    usernames: tuple[str, ...] = (),
    user_ids: tuple[int, ...] = (),
    aliases: tuple[str, ...] = (),
) -> OfficialConfig:
    """An official built the way the config loader builds one."""
    return OfficialConfig(
        id=official_id,
        name=LocalizedName(ru=official_id, kk=official_id, en=official_id),
        usernames=list(usernames),
        user_ids=list(user_ids),
        aliases=list(aliases),
    )


AKIM = official(
    "akim",
    usernames=("akim_astana",),
    user_ids=(100001,),
    aliases=("Касымбек", "Қасымбек", "Kassymbek", "аким города", "қала әкімі"),
)
DEPUTY = official("deputy", usernames=("zamakim_zhkh",), user_ids=(100002,), aliases=("замакима по ЖКХ",))
NURA = official("nura", usernames=("akim_nura",), user_ids=(100015,), aliases=("аким района Нура",))
DETECTOR = MentionDetector([AKIM, DEPUTY, NURA])
EXAMPLE = MentionDetector(load_config(EXAMPLE_CONFIG, environ={}).officials)


def message(
    text: str,
    entities: tuple[Entity, ...] = (),
    reply_to: ReplyTo | None = None,
    content_type: str = "text",
) -> IncomingMessage:
    return IncomingMessage(
        update_id=1,
        kind="message",
        chat=Chat(id=-1001234567890, type="supergroup", title="Астана чат"),
        message_id=7,
        date=1_700_000_000,
        sender=User(id=555, first_name="Айгерим"),
        text=text,
        entities=entities,
        reply_to=reply_to,
        content_type=content_type,
    )


def mention_entity(text: str, tag: str) -> Entity:
    """A mention entity for `tag` in `text`, with offsets in UTF-16 units as Telegram sends them."""
    index = text.index(tag)
    return Entity("mention", utf16_len(text[:index]), utf16_len(tag))


def ids(mentions: list[Mention]) -> list[str]:
    return [mention.official_id for mention in mentions]


# --- @username entities and plain-text tags -----------------------------------------------------------------


def test_mention_entity_after_two_emoji_uses_utf16_offsets() -> None:
    text = "🔥🔥 @akim_astana нет отопления третий день"
    entity = Entity("mention", offset=5, length=12)  # 2 + 2 + 1 units before the tag
    assert DETECTOR.detect(message(text, (entity,))) == [Mention("akim", "username", "@akim_astana")]


def test_mention_entity_is_read_through_utf16_even_where_the_text_scan_cannot_see_it() -> None:
    # No space after the tag: Telegram still marks the username, the strict text scan does not.
    text = "🔥🔥 @akim_astanaпочему нет света?"
    assert DETECTOR.detect_text(text) == []
    assert DETECTOR.detect_text(text, [Entity("mention", 5, 12)]) == [
        Mention("akim", "username", "@akim_astana")
    ]
    # Python indices instead of UTF-16 units would read "@akim_asta" shifted by two and find nobody.
    assert DETECTOR.detect_text(text, [Entity("mention", 3, 12)]) == []


def test_usernames_are_case_insensitive() -> None:
    text = "@AKIM_Astana когда уберут снег?"
    assert DETECTOR.detect_text(text, [mention_entity(text, "@AKIM_Astana")]) == [
        Mention("akim", "username", "@AKIM_Astana")
    ]
    assert DETECTOR.detect_text("спросите у @Akim_ASTANA") == [Mention("akim", "username", "@Akim_ASTANA")]


def test_tag_in_plain_text_without_entities() -> None:
    # Forwarded text and some clients carry no entities.
    assert DETECTOR.detect_text("Пересылаю: @akim_astana, нет воды на Кенесары 17.") == [
        Mention("akim", "username", "@akim_astana")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "@akim_astana_fan лучший аккаунт",
        "@akim_astana2 фейк",
        "пишите на email@akim_astana",
        "мой ник@akim_astana",
        "@@akim_astana",
        "tiktok.com/@akim_astana посмотрите видео",
        "@akim_astana@mail.kz",
    ],
)
def test_lookalike_usernames_are_not_the_official(text: str) -> None:
    assert DETECTOR.detect_text(text) == []


def test_mention_entity_of_another_user_is_ignored() -> None:
    text = "@akim_astana_fan опять пишет ерунду"
    assert DETECTOR.detect_text(text, [mention_entity(text, "@akim_astana_fan")]) == []


def test_tag_inside_a_url_entity_is_not_a_mention() -> None:
    text = "читайте https://example.kz/@akim_astana/posts"
    assert DETECTOR.detect_text(text, [Entity("url", 8, utf16_len(text) - 8)]) == []


# --- text_mention -------------------------------------------------------------------------------------------


def test_text_mention_of_an_officials_account() -> None:
    text = "😡 Жеңіс мырза, жылу жоқ"
    entity = Entity("text_mention", offset=3, length=5, user_id=100001)
    assert DETECTOR.detect(message(text, (entity,))) == [Mention("akim", "text_mention", "Жеңіс")]


def test_text_mention_of_someone_else_is_not_a_mention_even_with_an_alias_name() -> None:
    text = "спросите у Касымбек, он сосед"
    entity = Entity("text_mention", offset=text.index("Касымбек"), length=8, user_id=777)
    assert DETECTOR.detect_text(text, [entity]) == []
    assert DETECTOR.detect_text(text, [Entity("text_mention", 11, 8, user_id=None)]) == []


# --- replies ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "matched"),
    [
        (ReplyTo(message_id=3, from_user_id=100001), "100001"),
        (ReplyTo(message_id=3, from_user_id=42, from_username="Akim_Astana"), "@Akim_Astana"),
        (ReplyTo(message_id=3, from_username="@akim_astana"), "@akim_astana"),
    ],
)
def test_reply_to_an_officials_message(reply: ReplyTo, matched: str) -> None:
    assert DETECTOR.detect(message("а когда будет свет?", reply_to=reply)) == [
        Mention("akim", "reply", matched)
    ]


def test_reply_to_someone_else_is_not_a_mention() -> None:
    assert (
        DETECTOR.detect(message("согласен", reply_to=ReplyTo(3, from_user_id=42, from_username="aigerim")))
        == []
    )
    assert DETECTOR.detect(message("согласен", reply_to=ReplyTo(3))) == []


def test_reply_and_tag_of_the_same_official_count_once_and_text_comes_first() -> None:
    reply = ReplyTo(message_id=3, from_user_id=100001)
    result = DETECTOR.detect_text("@zamakim_zhkh и вы тоже, @akim_astana", reply_to=reply)
    assert result == [
        Mention("deputy", "username", "@zamakim_zhkh"),
        Mention("akim", "username", "@akim_astana"),
    ]
    reply_only = DETECTOR.detect_text("@zamakim_zhkh ответьте", reply_to=reply)
    assert reply_only == [Mention("deputy", "username", "@zamakim_zhkh"), Mention("akim", "reply", "100001")]


# --- captions -----------------------------------------------------------------------------------------------


def test_caption_entities_work_like_text_entities() -> None:
    caption = "📷🚧 @akim_astana яма на Жубанова 23"
    photo = message(caption, (Entity("mention", 5, 12),), content_type="photo")
    assert DETECTOR.detect(photo) == [Mention("akim", "username", "@akim_astana")]


def test_caption_from_a_raw_update() -> None:
    update = {
        "update_id": 10,
        "message": {
            "message_id": 5,
            "date": 1_700_000_000,
            "chat": {"id": -1001234567890, "type": "supergroup"},
            "from": {"id": 555, "is_bot": False, "first_name": "Ержан"},
            "photo": [{"file_id": "p1", "width": 90, "height": 90}],
            "caption": "🔥🔥 @akim_astanaмусор не вывозят",
            "caption_entities": [{"type": "mention", "offset": 5, "length": 12}],
        },
    }
    parsed = parse_update(update)
    assert isinstance(parsed, IncomingMessage)
    assert DETECTOR.detect(parsed) == [Mention("akim", "username", "@akim_astana")]


# --- aliases ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    ["Касымбек", "Касымбеку", "Касымбека", "Касымбеком", "Касымбеке", "КАСЫМБЕКУ", "касымбеку", "Касымбекке"],
)
def test_russian_inflections_of_an_alias(word: str) -> None:
    assert DETECTOR.detect_text(f"{word} пишу уже третий раз, ответа нет") == [Mention("akim", "alias", word)]


@pytest.mark.parametrize(
    "word",
    ["Қасымбек", "Қасымбекке", "Қасымбектің", "Қасымбекті", "Қасымбекпен", "Қасымбектен", "ҚАСЫМБЕККЕ"],
)
def test_kazakh_inflections_of_an_alias(word: str) -> None:
    assert DETECTOR.detect_text(f"{word} жеткізіңіздерші, жылу жоқ") == [Mention("akim", "alias", word)]


@pytest.mark.parametrize(
    "phrase",
    [
        *("аким города", "акиму города", "акима города", "акимом города", "Акиму  города"),
        *("қала әкімі", "қала әкіміне", "қала әкімінің", "Қала әкіміне"),
    ],
)
def test_every_word_of_a_multiword_alias_inflects(phrase: str) -> None:
    assert DETECTOR.detect_text(f"обращение к {phrase}: нет света") == [Mention("akim", "alias", phrase)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("әкім мырза, жылу жоқ", ["akim_kk"]),
        ("әкімге хат жаздық", ["akim_kk"]),
        ("әкімнің жауабы қайда?", ["akim_kk"]),
        ("әкімдікке барып келдім", ["akim_kk"]),
        ("әкімдеріне айтыңыз", ["akim_kk"]),  # plural + possessive + case: a chain of three
        ("Әкімшілік жауап бермейді", []),  # "administration": -ші is not in the grammar
        ("әкімбай деген кісі", []),
    ],
)
def test_single_word_kazakh_alias_takes_suffix_chains(text: str, expected: list[str]) -> None:
    detector = MentionDetector([official("akim_kk", aliases=("әкім",))])
    assert ids(detector.detect_text(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Касымбекова Айгуль из соседнего подъезда",
        "это Касымбеков, наш сосед",
        "Касымбекович сказал",
        "Касымбекұлы Ерлан — мой учитель",
        "Kassymbekov won the match",
        "акимат опять молчит",
        "в акимате сказали ждать",
        "пишите в акимат города",
        "t.me/kasymbek_fan",
        "@kasymbek_news пишет",
        "@Касымбек_ньюс пишет",
        "https://example.kz/news/kassymbek",
        "kassymbek.kz закрыт",
        "news.kassymbek опять",
        "pishite: kassymbek@mail.kz",
        "#касымбек_уйди",
        "ЗаКасымбек",
    ],
)
def test_aliases_do_not_match_other_words_names_or_addresses(text: str) -> None:
    assert DETECTOR.detect_text(text) == []


def test_aliases_inside_mention_and_url_entities_are_not_hits() -> None:
    text = "канал @kassymbek пишет, сайт kassymbek.info"
    entities = [Entity("mention", 6, 10), Entity("url", 29, 14)]
    assert DETECTOR.detect_text(text, entities) == []


def test_latin_alias_with_english_possessive() -> None:
    assert DETECTOR.detect_text("Kassymbek's team promised to fix it") == [
        Mention("akim", "alias", "Kassymbek's")
    ]


def test_kazakh_letters_differ_from_russian_lookalikes() -> None:
    russian_only = MentionDetector([official("ru", aliases=("Касымбек",))])
    kazakh_only = MentionDetector([official("kk", aliases=("Қасымбек",))])
    assert russian_only.detect_text("Қасымбекке хат жаздым") == []
    assert kazakh_only.detect_text("Касымбеку пишу") == []
    assert ids(russian_only.detect_text("Касымбекке жаздым")) == ["ru"]  # mixed-language inflection
    assert ids(kazakh_only.detect_text("Қасымбекке жаздым")) == ["kk"]


def test_yo_and_ye_are_the_same_letter() -> None:
    detector = MentionDetector([official("artyom", aliases=("Артём Королёв",))])
    for text in ("Артему Королеву пишу", "АРТЁМ КОРОЛЁВ", "артёма королева нет"):
        assert ids(detector.detect_text(text)) == ["artyom"], text


def test_soft_sign_and_a_stems_inflect() -> None:
    detector = MentionDetector(load_config(EXAMPLE_CONFIG, environ={}).officials)
    assert ids(detector.detect_text("аким района Есиль")) == ["akim_esil_district"]
    assert ids(detector.detect_text("акиму района Есиля")) == ["akim_esil_district"]
    assert ids(detector.detect_text("акиму района Сарыарки")) == ["akim_saryarka_district"]


def test_longer_alias_wins_over_a_shorter_one_it_starts_with() -> None:
    detector = MentionDetector(
        [official("city", aliases=("аким",)), official("nura", aliases=("аким района Нура",))]
    )
    assert ids(detector.detect_text("акиму района Нура пишу")) == ["nura"]
    assert ids(detector.detect_text("акиму пишу")) == ["city"]


def test_alias_shared_by_two_officials_tags_both() -> None:
    detector = MentionDetector([official("a", aliases=("мэр",)), official("b", aliases=("Мэр",))])
    assert ids(detector.detect_text("мэру пишу")) == ["a", "b"]


# --- several officials, order, deduplication ----------------------------------------------------------------


def test_several_officials_in_order_of_first_appearance() -> None:
    text = "Касымбеку, @zamakim_zhkh и акиму района Нура: третий день без воды"
    result = DETECTOR.detect_text(text, [mention_entity(text, "@zamakim_zhkh")])
    assert result == [
        Mention("akim", "alias", "Касымбеку"),
        Mention("deputy", "username", "@zamakim_zhkh"),
        Mention("nura", "alias", "акиму района Нура"),
    ]


def test_one_mention_per_official_the_first_one() -> None:
    text = "Қасымбекке айтыңыз, @akim_astana, Касымбек, аким города!"
    assert DETECTOR.detect_text(text) == [Mention("akim", "alias", "Қасымбекке")]


def test_example_config_detects_its_officials() -> None:
    text = "🔥 @akim_esil и замакиму по ЖКХ: Есіл ауданының әкіміне тоже, Астана әкімінің жауабы жоқ"
    assert ids(EXAMPLE.detect_text(text)) == ["akim_esil_district", "deputy_utilities", "akim"]


# --- untagged chatter ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "третий день нет горячей воды на Кенесары 17, батареи ледяные",
        "су жоқ с самого утра, ОСИ трубку не берет",
        "ну спасибо, отопление дали в июне 😂",
        "кто должен чистить крышу от снега — ОСИ или акимат?",
        "Благодарим акимат района Нура за новые контейнеры",
        "жол жаман, шұңқыр толы",
        "пишите на почту info@astana.kz или звоните 109",
        "Касымбекова Айгерим, 3 подъезд — ваша посылка у консьержа",
        "@aigerim_k привет, ты видела новости?",
        "город без снега — мечта",
    ],
)
def test_untagged_chatter_tags_nobody(text: str) -> None:
    assert DETECTOR.detect_text(text) == []
    assert EXAMPLE.detect_text(text) == []


def test_detector_without_officials_finds_nothing() -> None:
    empty = MentionDetector([])
    text = "@akim_astana Касымбек"
    assert empty.detect_text(text, [Entity("mention", 0, 12)], ReplyTo(1, 100001, "akim_astana")) == []


# --- robustness ---------------------------------------------------------------------------------------------

ENTITY_TYPES = st.sampled_from(
    ["mention", "text_mention", "url", "email", "bold", "hashtag", "code"]
) | st.text(max_size=12)
entities = st.builds(
    Entity,
    type=ENTITY_TYPES,
    offset=st.integers() | st.integers(-3, 60),
    length=st.integers() | st.integers(-3, 60),
    user_id=st.none() | st.sampled_from([100001, 100002, 7]) | st.integers(),
)
replies = st.none() | st.builds(
    ReplyTo,
    message_id=st.integers(),
    from_user_id=st.none() | st.sampled_from([100001, 42]) | st.integers(),
    from_username=st.none()
    | st.sampled_from(["akim_astana", "@ZAMAKIM_ZHKH", "", "@"])
    | st.text(max_size=20),
)
# Pieces rather than characters: aliases, tags and suffixes glued to each other and to odd characters (a lone
# surrogate, İ that lower-cases to two characters, the Kelvin sign K).
texts = st.lists(
    st.one_of(
        st.sampled_from([*"@_ .\n/", "🔥", "\ud83d", "İ", "K", "ё"]),
        st.sampled_from(["@akim_astana", "Касымбек", "акиму города", "әкімі", "ке", "ов", "kassymbek.kz"]),
        st.characters(),
    ),
    max_size=40,
).map("".join)


@given(texts, st.lists(entities, max_size=6), replies)
def test_detect_text_never_raises(text: str, found: list[Entity], reply: ReplyTo | None) -> None:
    for detector in (DETECTOR, EXAMPLE):
        result = detector.detect_text(text, found, reply)
        official_ids = ids(result)
        assert len(official_ids) == len(set(official_ids))
        assert all(mention.how in {"username", "text_mention", "reply", "alias"} for mention in result)
