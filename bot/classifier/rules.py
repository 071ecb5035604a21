"""Urgency rules: danger to life, health or property now, in Russian, Kazakh (both scripts) and English.

The rules are a safety net OR'd with the model's urgency head: a gas smell is urgent however the
model scores it. Russian and English patterns read the normalised text; Kazakh patterns are written
once in the folded Latin form (`normalize.fold`), so they match Cyrillic and both Latin alphabets.
"""

from __future__ import annotations

import re

__all__ = ["URGENT_RULES", "urgent_reasons"]

W = r"[^\W\d_]*"  # the rest of a word (its endings)
GAP = r"(?:\S+ ){0,3}"  # up to three words in between
ONE = r"(?:\S+ )?"  # at most one word in between
# Things that burn, fall or flood in a Russian message ("горит щиток", "в подвале горит").
_OBJECTS = (
    rf"(?:дом|квартир{W}|подъезд{W}|машин{W}|щит{W}|щиток|провод{W}|трансформатор{W}|мусорк{W}|"
    rf"контейнер{W}|свалк{W}|трава|траву|кабел{W}|подвал{W}|балкон{W})"
)

# (name, alternatives on the normalised text, alternatives on the folded text)
_RULES: list[tuple[str, list[str], list[str]]] = [
    (
        "gas_smell",
        [
            rf"\b(?:запах{W}|пахн{W}|воня{W}|вонь|несет|тянет) {GAP}газ",
            rf"\bгаз{W} {GAP}(?:пахн|запах|воня|вонь|чувству)",
            rf"\bутечк{W} {GAP}газ",
            rf"\bгаз{W} {GAP}утечк",
            r"\bугарн|\bугар\b",
            rf"\bгаз{W} (?:\S+ ){{0,5}}шип{W}",
            rf"\bшип{W} (?:\S+ ){{0,5}}газ",
            r"\bsmell\w* (?:\S+ ){0,3}gas\b",
            r"\bgas (?:smell|leak|odou?r)",
            r"\bcarbon monoxide|\bco (?:detector|alarm)",
            r"\bgas (?:\S+ ){0,3}hiss",
        ],
        [
            r"\bgaz\w* (?:\S+ ){0,2}(?:iis|sas|anki)",
            r"\b(?:iis|sas)\w* (?:\S+ ){0,2}gaz\b",
            r"\bgaz\w* .{0,60}isilda",
        ],
    ),
    (
        "fire",
        [
            r"\bпожар(?:а|у|ом|е|ы|ов|ные|ных|ным|ники|ников)?\b",
            rf"\bвозгоран{W}|\bзадымл{W}|\bподожгл{W}|\bподжог{W}",
            r"\bдымится|\bдымятся|\bидет дым|\bдым идет|\bгарью",
            rf"\b{_OBJECTS} (?:\S+ ){{0,2}}(?:горит|горят|загорел{W}|полыха{W}|дымит{W})",
            rf"(?<!не )\b(?:горит|горят|загорел{W}|полыха{W}) {ONE}(?:{_OBJECTS}|огнем)",
            r"\bon fire\b|\bflames?\b|\bfirefighters\b",
            r"\bfire (?:in|at|on|near|behind|right)\b",
            r"\bburning (?:building|car|house)",
            r"\bsmoke (?:is )?(?:coming|pouring|everywhere)",
        ],
        [
            r"\bort(?:ti|ke|te|tin|tan|ten|ka)?\b",
            r"\bort shik",
            r"\bjanip (?:jatir|ketti)",
            r"\bot aldi\b",
            r"\btutin \w* (?:podezd|pater)",
        ],
    ),
    (
        "flooding",
        [
            rf"\bпрорыв{W}|\bпрорвал{W}|\bпотоп\b|\bхлещ{W}|\bкипят{W}",
            rf"\bзатоп(?:ил|ило|ила|или|ит|ят|лен|лени){W}|\bзатапл{W}",
            rf"\bканализ{W} (?:\S+ ){{0,3}}(?:поднима{W}|залива{W}|топит|на полу)",
            r"(?<!не )\bтопит\b",
            rf"\bзалива{W} {ONE}(?:квартир|подъезд|подвал|электр|щит|провод|соседей)",
            rf"\bтруб{W} {ONE}(?:лопнул{W}|прорвал{W}|разорвал{W})",
            rf"\bфонтан{W} {ONE}(?:из|горяч|воды|кипят)",
            r"\bflood(?:ed|ing|s)?\b|\bburst\b",
            r"\bsewage (?:\S+ ){0,2}backing up",
            r"\bpipe (?:\S+ )?(?:broke|burst)",
            r"\bboiling water|\bwater (?:is )?(?:pouring|gushing)",
        ],
        [
            r"\bsu\w{0,3} (?:\S+ )?(?:basti|basip|basa)",
            r"\bkariz\w* (?:\S+ )?bas(?:ti|ip|a)",
            r"\bkubir\w* (?:\S+ )?jaril",
            r"\bsu astinda",
            r"\bistik su (?:\S+ )?(?:agip|shashir)",
        ],
    ),
    (
        "open_manhole",
        [
            rf"\bоткрыт{W} (?:люк|колод)",
            rf"\bлюк{W} {ONE}(?:открыт|без крышки|нет крышки)",
            rf"\bкрышк{W} {ONE}(?:люка|колодца) {ONE}(?:нет|украли|сдвинул|провалил)",
            rf"\b(?:украли|сдвинули|нет) {ONE}крышк{W} {ONE}(?:люка|колодца)",
            r"\bopen manhole|\bmanhole (?:\S+ )?(?:open|uncovered|without)",
            r"\bmissing (?:manhole )?cover",
        ],
        [r"\bliuk\w* (?:\S+ )?ashik|\bashik (?:liuk|kudik)", r"\bkakpag\w* (?:\S+ )?jok"],
    ),
    (
        "live_wire",
        [
            rf"\bоголен{W} провод|\bголы{W} провод|\bторчат{W} {ONE}провод",
            rf"\bпровод{W} (?:\S+ ){{0,2}}(?:на земле|искрит|висят|висит|оборван{W}|оборвал{W}|упал{W})",
            rf"\bпровод{W} (?:\S+ ){{0,2}}(?:лежит|лежат|провис{W}|на дорог|болтают{W}|под напряжением)",
            r"\bискр(?:ит|ят|ило|ил|ы|ами)\b",
            rf"\bбьет током|\bбьется током|\bудар{W} током|\bудари{W} током|\bпод напряжением",
            r"\blive wires?\b|\bsparks?\b|\bsparking|\bexposed wires?|\belectrocut",
            r"\bwires? (?:\S+ )?(?:down|hanging|sparking|on the ground|exposed)",
        ],
        [r"\bsim\w* (?:\S+ ){0,2}(?:uzil|jer(?:de|ge)|jatir|salbira|ilinip)", r"\bushkin", r"\btok sog"],
    ),
    (
        "collapse",
        [
            rf"\bобрушил{W}|\bобрушен{W}|\bрухнул{W}|\bрухнет|\bобвал{W}|\bобвалит{W}|\bпровал(?:ил{W})?\b",
            rf"\b(?:висит|висят|свисает|свисают|качается|провис{W}) .{{0,40}}\bнад\b",
            rf"\b(?:потол{W}|балкон{W}|плит{W}|стен{W}|козыр{W}) {ONE}(?:упал{W}|обвалил{W}|провалил{W})",
            rf"\b(?:потол{W}|балкон{W}|плит{W}|стен{W}|козыр{W}) {ONE}(?:падает|сыпется|треснул{W}|висит)",
            r"\bcollaps\w*|\bcaved in|\bceiling (?:\S+ )?fell",
            r"\bhang\w* (?:\S+ ){0,4}(?:over|above)\b",
            r"\bfell (?:\S+ )?(?:from|off) (?:the )?(?:roof|balcony)",
        ],
        [r"\bkulap (?:tusti|ketti|kaldi)", r"\bkuladi\b", r"\boprilip", r"\bilinip tur"],
    ),
    (
        "stuck_in_lift",
        [
            rf"\bзастрял{W} {ONE}(?:в )?лифт{W}|\bлифт{W} (?:\S+ ){{0,3}}застрял{W}|\bв шахту",
            r"\b(?:stuck|trapped) in (?:the |an )?(?:lift|elevator)",
        ],
        [r"\blift\w* (?:\S+ ){0,3}(?:kalip|kaldi|turip kal|zastrial|sirail)"],
    ),
    (
        "dog_attack",
        [
            rf"\bста(?:я|и|ей|ю) {ONE}(?:собак|псов).{{0,80}}\b(?:дет|ребен|школ|садик|площадк)",
            rf"\bбешен{W}|\bпеной у рта",
            r"\bбросается на (?:\S+ )?(?:дет|люд|родит|прохож)",
            rf"\bсобак{W} (?:\S+ ){{0,2}}(?:напал{W}|покусал{W}|укусил{W}|кидают{W}|бросают{W})",
            rf"\bсобак{W} (?:\S+ ){{0,2}}(?:набросил{W}|гоняют{W}|загрызл{W})",
            rf"\b(?:напал{W}|покусал{W}|укусил{W}|искусал{W}|загрызл{W}) (?:\S+ ){{0,2}}(?:собак{W}|пес|псы)",
            r"\bdogs? (?:\S+ )?(?:attack\w*|bit|bite|bitten|chas\w*)|\bpack of (?:\S+ )?dogs",
            r"\bbitten by|\brabid|\bfoaming",
        ],
        [
            r"\bit(?:ter)?\w* (?:\S+ ){0,3}(?:kapti|kabadi|talap|shabuil|tap ber)",
            r"\bit(?:ter)? (?:\S+ )?kap",
            r"\btap berdi\b|\btap beredi\b",
            r"\btistep|\bkutir",
        ],
    ),
    (
        "medical_emergency",
        [
            r"\bне дышит|\bбез сознания|\bпотерял\w* сознание|\bистекает кровью",
            rf"\bскор{W} (?:\S+ ){{0,2}}не (?:смогл{W}|может|могут) {ONE}(?:заехать|проехать|подъехать)",
            rf"\bскор{W} {ONE}буксуют",
            r"\bnot breathing|\bunconscious|\bheart attack|\bstroke\b|\bbleeding",
        ],
        [
            r"\btinis ala almai",
            r"\besinen tan",
            r"\bkan ketip",
            r"\bjedel jardem\w* (?:\S+ ){0,3}(?:kire|jete) almadi",
        ],
    ),
    (
        "icicles",
        [
            rf"\bсосул{W} (?:\S+ ){{0,3}}(?:над|висят|висит|свиса{W}|падают|упал{W})",
            rf"\b(?:над|висят|свиса{W}) (?:\S+ ){{0,3}}сосул{W}",
            rf"\bглыб{W} (?:\S+ ){{0,3}}(?:над|свиса|висит)",
            r"\bicicles? (?:\S+ )?(?:above|over|hanging|falling)|\bhanging (?:\S+ ){0,2}icicles?",
        ],
        [r"\bsungi\w* (?:\S+ ){0,3}(?:ilinip|tur|kulap)", r"\bkar \w* (?:kulap|ilinip)"],
    ),
    (
        "unfenced_hazard",
        [
            r"\bбез ограждени|\bне огорожен|\bничем не огорож|\bникто не огородил|\bограждени\w* нет",
            r"\bзабора нет|\bбез забора|\bno fence|\bunfenced|\bnot fenced",
            r"\b(?:остр\w*|шприц\w*|ртут\w*) .{0,100}\b(?:дет|ребен|ребят|малыш)",
            r"\b(?:дет|ребен|ребят|малыш)\w* .{0,100}\b(?:остр\w*|шприц\w*)",
            r"\b(?:sharp|syringe|needles|nails)\b.{0,100}\b(?:kids|children)\b",
        ],
        [
            r"\bkorshau (?:da )?(?:\S+ )?(?:de )?jok\b",
            r"\b(?:otkir|shprits)\w* .{0,100}\bbala",
            r"\bbala\w* .{0,100}\b(?:otkir|shprits)",
        ],
    ),
    (
        "violence",
        [
            r"\bизбива\w*|\bугрожа\w* (?:\S+ )?убить|\bс (?:ножом|топором|пистолетом)|\bстреля\w*",
            r"\bпьян\w* водител|\bводител\w* (?:\S+ ){0,2}пьян",
            r"\bknife|\bgun\b|\bstabb\w*|\bbeating (?:\S+ )?up|\bdrunk driver",
        ],
        [r"\bpishak", r"\bjurgizushi\w* (?:\S+ ){0,2}mas\b"],
    ),
]

# No heating (or no gas for the boiler) together with frost or vulnerable people: urgent in winter.
_NO_HEATING = [
    r"\bнет отоплени|\bбез отоплени|\bне топят",
    rf"\b(?:вырубил|отключил|отрубил){W} {ONE}отоплен",
    rf"\bотоплени{W} {ONE}(?:нет|отключ{W}|не дали)",
    rf"\bнет газа|\bгаз{W} {ONE}(?:пропал|отключ)",
    rf"\bбатаре{W} {ONE}(?:холодн{W}|ледян{W}|не греют|не греет)|\bхолодн{W} батаре",
    r"\bno heat(?:ing)?\b|\bradiators? (?:\S+ )?cold",
    r"\bheating (?:\S+ ){0,2}(?:off|out|is not|isn't|doesn't|not working)",
]
_NO_HEATING_FOLDED = [
    r"\bjilu (?:\S+ )?(?:jok|berilme|oshir)",
    r"\bbatare\w* (?:\S+ )?(?:suik|muz)",
    r"\bgaz (?:\S+ )?(?:jok|oship)",
]
_FROST = [
    r"(?:^|\s)-\s?[2-4]\d\b",
    r"\bминус (?:[2-4]\d|двадцат|тридцат)",
    rf"\bмороз{W}",
    r"\bbelow zero|\bminus [2-4]\d|\bfreezing\b|\bfrost",
]
_FROST_FOLDED = [r"\bajaz|\baiaz|\bminus [2-4]\d"]
_VULNERABLE = [
    rf"\bмладен{W}|\bгрудн{W}|\bноворожд{W}|\bмалыш{W}",
    rf"\bбабушк{W}|\bдедушк{W}|\bпожил{W}|\bлежач{W}|\bстарик{W}",
    r"\b\d+ (?:месяц|мес)|\bдети мерзнут",
    r"\bbab(?:y|ies)\b|\binfant|\bnewborn|\belderly|\bgrandm",
]
_VULNERABLE_FOLDED = [r"\bnarieste|\bsabi|\bkart\b|\bkari\b|\baje\w*|\bkariia|\b\d+ ailik|\bkishkentai bala"]


def _compile(alternatives: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


URGENT_RULES: list[tuple[str, re.Pattern[str], re.Pattern[str] | None]] = [
    (name, _compile(normalized), _compile(folded) if folded else None) for name, normalized, folded in _RULES
]
_NO_HEATING_RE, _NO_HEATING_FOLDED_RE = _compile(_NO_HEATING), _compile(_NO_HEATING_FOLDED)
_COLD_OR_FRAGILE_RE = _compile(_FROST + _VULNERABLE)
_COLD_OR_FRAGILE_FOLDED_RE = _compile(_FROST_FOLDED + _VULNERABLE_FOLDED)


# every rule's alternatives in one pattern: most complaints trigger none, and one search says so
_ANY_RULE_RE = _compile([a for _, normalized, _ in _RULES for a in normalized])
_ANY_RULE_FOLDED_RE = _compile([a for _, _, folded in _RULES for a in folded or ()])


def urgent_reasons(normalized: str, folded: str) -> list[str]:
    """Names of the urgency rules a message triggers (normalised and folded forms of its text)."""
    reasons: list[str] = []
    if _ANY_RULE_RE.search(normalized) or _ANY_RULE_FOLDED_RE.search(folded):
        reasons = [
            name
            for name, pattern, folded_pattern in URGENT_RULES
            if pattern.search(normalized) or (folded_pattern is not None and folded_pattern.search(folded))
        ]
    no_heating = _NO_HEATING_RE.search(normalized) or _NO_HEATING_FOLDED_RE.search(folded)
    if no_heating and (_COLD_OR_FRAGILE_RE.search(normalized) or _COLD_OR_FRAGILE_FOLDED_RE.search(folded)):
        reasons.append("no_heating_in_frost")
    return reasons
