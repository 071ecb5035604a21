"""A small hand-written thesaurus: word stems in Russian, Kazakh (both scripts) and English → concepts.

The model sees each concept as an extra feature ("~bus" for автобус, avtobus, bus and аялдама's
neighbours), so what it learns from a Russian message carries over to the same problem written in
Kazakh or English, and to wording the corpus never used. The stems are domain knowledge written by
hand from the taxonomy; gaps were found with cross-validation errors on the training split only
(never the held-out rows). Matching follows `bot.classifier.matching` rules.
"""

from __future__ import annotations

from bot.classifier.matching import StemIndex
from bot.classifier.normalize import fold_token, is_cyrillic, is_latin, normalize

__all__ = ["CONCEPTS", "Lexicon"]

# concept: space-separated stems; Cyrillic stems also match Latin-script Kazakh/Russian after folding.
CONCEPTS: dict[str, str] = {
    # roads
    "road": (
        "дорог дорожн трасс проезжа шоссе автодорог магистрал проспект улиц жол көше даңғыл road roads "
        "street highway avenue"
    ),
    "pothole": "ям ямк ямоч выбоин колдоб ухаб провал дыр шұңқыр ойық ойпаң pothole potholes hole sinkhole",
    "asphalt": "асфальт щебен гравий покрыт асфальтта repav asphalt paving resurfac",
    "pavement": (
        "тротуар бордюр пешеход переход зебр плитк брусчат жаяу өткел жүргінші pavement sidewalk curb "
        "kerb crosswalk crossing pedestrian footpath"
    ),
    "traffic_light": "светофор бағдаршам регулировщ traffic",
    "traffic": "пробк поворот стрелк полос перекрест разворот қиылыс кептеліс jam lane intersection",
    "road_sign": "знак разметк белгі сызық signs marking markings",
    "bridge": "мост путепровод развязк эстакад виадук көпір bridge overpass flyover",
    "car_damage": "колес подвеск диск шин покрышк дөңгелек доңғалақ tire tyre tires wheel suspension",
    "accident": "авари дтп столкнов апат accident crash",
    "road_works": "перекрыт объезд ремонт жөнде repair roadworks detour",
    # public transport
    "bus": "автобус маршрутк пазик троллейб салон автопарк автобусп bus buses",
    "route": "маршрут интервал рейс бағыт route routes interval",
    "bus_stop": "остановк конечн павильон аялдам stop stops shelter",
    "driver": "водител кондуктор шофер жүргізуші driver drivers conductor",
    "fare": "проезд валидатор онай тариф билет fare validator ticket card",
    "rail": "лрт метро трамва электричк вокзал lrt tram station",
    "schedule": "расписан приложен табло кесте қосымша schedule timetable app",
    "taxi": "такси таксист taxi cab",
    # heating
    "heating": "отоплен отопит теплоснаб теплосет тепл обогрев жылу жылыт heating heat",
    "radiator": "батаре радиатор стояк полотенцесуш радиатор radiator radiators",
    "hot": "горяч кипят кипяток ыстық hot boiling",
    "cold": "холодн мерзн замерз мороз градус минус суық тоңып тоң аяз cold freezing frost degrees",
    "chp": "тэц тэс котельн жэо chp",
    # water
    "water": "вод водоснаб водопровод водоканал кран су сусыз water",
    "sewage": "канализ стоки фекал нечистот кәріз sewage sewer toilet",
    "pressure": "напор қысым pressure",
    "pipe": "труб трубопровод магистрал құбыр pipe pipes pipeline",
    "flood": (
        "затоп потоп прорыв утечк теч течет хлещ заливает залил ағып ағады жарыл flood flooded flooding "
        "leak leaking burst"
    ),
    "manhole": "люк колодец колодц құдық manhole",
    "water_quality": "ржав мутн желт вонюч лай сасық rusty dirty brown",
    "drain": "ливнев лужи луж водосток арык көлшік arik puddle puddles drain drainage",
    "meter": "счетчик показан начисл квитанц перерасч есептегіш түбіртек meter bill billing",
    # electricity
    "power": "свет электр электроэнерг электричеств энерг жарық электр power electricity blackout outage",
    "lamp": "фонар освещен лампоч прожектор шам жарықтандыр streetlight streetlights lamp lamps lights light",
    "wire": "провод кабел сым wire wires cable cables",
    "pole": "столб опор бағана pole poles",
    "transformer": "трансформат подстанц щиток щит электрощит автомат transformer substation",
    "outage": "отключ отключен отрубил вырубил без предупрежд өшір сөнді ескертусіз cut outage",
    # gas
    "gas": "газ газов газопровод газоснаб газификац газдандыр уголь угля көмір gas coal",
    "smell": "пахн запах вон воня смерд зловон иіс иіст сасы аңқы smell smells stink stench odor",
    "boiler": "котел котл колонк қазандық boiler",
    "stove": "плит плита газплит конфорк stove burner",
    # waste
    "garbage": "мусор отход бытов пакет бутылк қоқыс қоқыр қалдық garbage trash rubbish litter waste",
    "container": "контейнер бак урн мусорк площадк контейнер жәшік bin bins container containers dumpster",
    "dump": "свалк полигон үйінді dump landfill",
    "collection": "вывоз вывез вывозят мусоровоз шығар тасып collect collection pickup collected",
    # snow
    "snow": "снег снеж сугроб метел завал қар боран snow snowdrift snowdrifts blizzard",
    "ice": "гололед гололедиц лед льд налед скольз каток мұз көктайғақ тайғақ тайғанақ ice icy slippery",
    "icicle": "сосул глыб сүңгі icicle icicles",
    "clearing": (
        "расчист чистят почист убира уборк снегоубор грейдер трактор колея колеи посып песк реагент "
        "тазала тазарт құм plow plough clear cleared shovel sand grit gritting salt"
    ),
    # landscaping
    "playground": (
        "площадк качел горк песочн карусел турник спортплощадк тренажер әткеншек алаң ойын playground "
        "swing swings slide sandbox"
    ),
    "park": "парк сквер аллея набережн саябақ park parks square embankment",
    "tree": (
        "дерев тополь топол берез карагач кустар ветк пень пни спил вырубил саженц ағаш бұта бұтақ көшет "
        "tree trees branch branches"
    ),
    "bench": "скамейк лавочк лавк беседк орындық bench benches",
    "lawn": (
        "газон клумб цвет трав полив поливаю көгал гүл гүлзар шөп суар lawn lawns flowerbed grass watered"
    ),
    "yard": "двор дворов придомов аула courtyard yard",
    "dust": "пыл грязь слякот шаң балшық лай dust mud",
    # housing
    "osi": "оси кск ук управляющ председател пиб пкк osi ksk management",
    "entrance": "подъезд подьезд подезд кіреберіс entrance stairwell lobby hallway",
    "lift": "лифт lift elevator",
    "roof": "крыш кровл чердак шатыр roof rooftop attic",
    "ceiling": (
        "потол стены стене трещин плесен сырост грибок төбе қабырға жарықшақ зең ceiling walls crack "
        "cracks mold mould"
    ),
    "basement": "подвал жертөле basement",
    "pests": "таракан клоп крыс мыш блох тарақан егеуқұйрық тышқан cockroach cockroaches rats mice bedbugs",
    "repair_building": "капремонт фасад капиталь күрделі facade renovation",
    "intercom": "домофон дверь двер замок есік домофон intercom door",
    "stairs": "лестниц ступен баспалдақ stairs staircase steps",
    "balcony": "балкон козырек козырьк перил balcony slab railing",
    "fee": "взнос тариф плат жарна fee fees",
    # construction
    "construction": (
        "стройк строит строят строил построил достро застройщ новострой котлован кран прораб высотк "
        "многоэтаж этажей жк самосвал экскаватор траншея траншею бетономешал құрылыс салушы салып салынып "
        "construction builder builders developer site excavator trench high-rise"
    ),
    "illegal": "незакон самовол разрешен заңсыз рұқсат illegal permit permits",
    "fence": "забор огражден ограждн заграждн қоршау fence fencing",
    "piles": "свай отбойн перфорат бетон арматур piles concrete rebar",
    "unfinished": "недостро заморож бітпеген unfinished abandoned",
    "scaffold": "леса кирпич scaffold scaffolding bricks",
    # animals
    "dog": "собак собач пес псин псы щен ит иттер күшік dog dogs puppy puppies",
    "cat": "кошк кот котят мысық cat cats kitten kittens",
    "stray": "бродяч бездомн безнадзор қаңғыбас қаңғыған иесіз stray strays homeless",
    "bite": (
        "укус покус напал кидают бросают загрыз қапты қабады талап шабуыл bite bitten bit attack attacked"
    ),
    "animal_control": "отлов отловщ ветеринар стерилиз аулау ветеринар catch catcher shelter vet",
    "dead": "дохл труп падал өлі өлексе dead carcass",
    "birds": "голуб ворон птиц кептер құс pigeon pigeons crows birds",
    "pets": "выгул хозяев поводок намордник иесі leash owner owners",
    "livestock": "коров лошад овц петух скот сиыр жылқы cows horses sheep livestock",
    # public order
    "noise": "шум шумят громк музык орут кричат грохот шу айқай дабыр дыбыс гүріл noise noisy loud music",
    "racing": "гонк гоняют дрифт жарыс racing drift",
    "drunk": "пьян алкаш бухают выпива распива мас ішімдік ішіп drunk drinking alcohol",
    "fight": "драк дерут избил нож стрельб төбелес ұрып пышақ fight fighting knife stabbed",
    "police": "полиц участков патрул мвд 102 полиция учаскелік police cops patrol",
    "parking": "парков паркуют припарков стоянк тротуаре тұрақ parking parked park",
    "trade": "торгов торгуют стихийн продавц киоск саудагер сатушы vendors vendor trading kiosk",
    "vandals": (
        "хулиган подростк вандал граффит бұзақы жасөспірім vandal vandals vandalism teenagers graffiti"
    ),
    "night": "ночь ночам ночью ночи полноч түнде түн таңға night nights midnight",
    "neighbors": "сосед көрші neighbor neighbors neighbour neighbours",
    "club": "клуб кафе караоке club cafe party",
    "cars": "машин автомобил авто джип фура грузовик камаз көлік car cars truck",
    "beggars": "попрошайк цыган бомж бродяг қайыршы қаңғыбас beggar beggars homeless",
    "fireworks": "петард салют фейерверк отшашу fireworks firecrackers",
    "scooters": "самокат электросамокат мотоцикл мопед samokat scooter scooters motorcycle",
    "smoking": "курят курит сигарет вейп кальян темекі шылым vape cigarette cigarettes smoking",
    "voltage": "напряжен скачок перепад кернеу voltage surge",
    "ticks": "клещ комар мошк кене маса ticks mosquitoes",
    "mowing": "косят покос скошен шабу mow mowing",
    "rude": "хам хамит нахамил грубо груб дөрекі rude",
    # ecology
    "smoke": "дым дымит задымл смог гарь копоть саж выброс түтін ыс күйе smoke smog fumes soot emissions",
    "burning": "жгут сжига жжен жгли сжиган өртеп жағып жағады burning burn burns",
    "pollution": "загрязн эколог химическ масл нефт ластан ластау экология pollution polluted chemical oil",
    "river": "рек речк озер пруд водоем есил өзен көл river lake pond",
    "plant": "завод предприят мясокомбинат цех комбинат зауыт factory plant",
    "air": "воздух дышать задыха ауа тыныс air breathe breathing",
    # health
    "clinic": (
        "поликлин больниц стационар приемн травмпункт регистратур роддом емхана аурухана перзентхана "
        "clinic clinics hospital polyclinic"
    ),
    "doctor": "врач терапевт педиатр медсестр медик хирург дәрігер мейірбике doctor doctors nurse",
    "ambulance": "скорая скорой скорую неотложк 103 жедел ambulance paramedics",
    "medicine": (
        "лекарств аптек рецепт препарат вакцин прививк дәрі дәріхана екпе pharmacy medicine medicines "
        "vaccine prescription"
    ),
    "appointment": "талон запис прием очеред анализ мрт узи жазыл кезек appointment queue",
    "insurance": "осмс страхов сақтандыру insurance",
    "sick": "болеет болезн температур давлен приступ ауру ауырып науқас sick ill fever",
    # education
    "school": "школ гимназ лицей мектеп компьютер кабинет спортзал подвоз информатик school schools",
    "kindergarten": "садик детсад сад ясли балабақша kindergarten daycare preschool",
    "teacher": (
        "учител учительниц педагог воспитател директор завуч мұғалім тәрбиеші мұғалімдер teacher teachers"
    ),
    "pupils": "ученик школьник класс урок четверт оқушы сынып сабақ pupils students class lessons",
    "canteen": "столов питан буфет обед асхана canteen lunch lunches meals",
    "textbook": "учебник оқулық textbook textbooks",
    # social
    "benefit": (
        "пособи выплат адресн асп льгот субсид соцпомощ помощ продуктов набор жәрдемақы төлем көмек "
        "benefit benefits allowance"
    ),
    "pension": "пенси зейнет зейнетақы pension pensions",
    "disability": (
        "инвалид пандус коляск колясоч инватакси ипр мүгедек арба disability disabled wheelchair ramp"
    ),
    "large_family": "многодет көпбалалы",
    "employment": (
        "безработ трудоустр ваканс занятост биржа общественные жұмыссыз unemployed unemployment jobs "
        "employment"
    ),
    "housing_queue": "жиль арендн баспана пәтер кезегі housing apartment",
    "elderly": (
        "бабушк дедушк пенсионер пожил ветеран стари старик одинок әже ата қарт қария grandma grandmother "
        "grandfather elderly veteran"
    ),
    "social_worker": "соцработ социальн әлеуметтік social",
    # other
    "tson": "цон цона спеццон хқко халыққа con tson",
    "documents": (
        "документ справк паспорт удостовер прописк регистрац заявлен ип құжат анықтама тіркел document "
        "documents passport certificate registration"
    ),
    "egov": "егов egov eotinish еотиниш портал сайт онлайн website online",
    "telecom": "интернет связ оператор вышк мобильн байланыс internet signal mobile network wifi",
    "price": "цен дорог подорож наценк баға қымбат price prices expensive",
    "post": "почт казпочт посылк пошта почта post parcel",
    "bureaucracy": (
        "отписк бюрократ чиновник приемн госорган хотлайн обращени согласован 109 кеңсе шенеунік өтініш "
        "bureaucracy officials appeal"
    ),
    "market": "рынок базар магазин супермаркет нарық дүкен market shop store supermarket",
    "fraud": "обман мошенн развод схема обвес обменник нотариус комисси алаяқ fraud scam",
    "lost_found": (
        "потерял потеряла пропал пропала нашли найден ищем хозяин жоғалт жоғалды таптым тапқан табылды "
        "lost found missing"
    ),
    "announcement": (
        "уважаемые состоится собрание повестка внимание объявлен планов будет перекрыт график хабарлайды "
        "хабарландыру жиналыс назар синоптик прогноз берегите reminder heads announcement meeting scheduled "
        "planned forecast"
    ),
    "event": "фестивал ярмарк концерт субботник мероприят выставк festival fair concert event exhibition",
    "opinion": "по-моему считаю мнени имхо дебат кандидат меніңше пікір imho opinion debate",
    "politics": (
        "выбор партии партия депутат коррупц политик сайлау партия election elections party corruption"
    ),
    "giveaway": "отдам даром бесплатн тегін free giveaway",
    "how_long": "сколько доколе надоел задолбал достал қашанға дейін жалықтық тойдық fed tired enough",
    # intent and tone
    "thanks": "спасиб благодар рахмет алғыс raqmet thank thanks grateful",
    "praise": (
        "молодц отличн красот красав прекрасн супер класс респект жарайсың керемет тамаша әдемі great "
        "awesome beautiful excellent kudos respect"
    ),
    "fixed": (
        "починил отремонтир устранил сделали заменил поменял восстановил исправил жөндеді ауыстырды "
        "қалпына fixed repaired replaced restored"
    ),
    "question": (
        "подскаж скажите уточн интересу қашан қайда қалай қандай кім неге нешеде when where how which whom"
    ),
    "wh_word": "как где куда сколько какой какая какие почему зачем когда кто",
    "suggestion": "предлага предложен предлож давайте ұсын ұсыныс suggest suggestion propose should",
    "ad": (
        "продам продаю продает сдаю сдается скидк акци услуг доставк звоните пишите недорог доход заработ "
        "вознагражд посредник сатам сатылады жалға жеңілдік sale discount selling delivery rent"
    ),
    "congrats": "поздравл праздник юбилей желаю құттықта мереке мерекең құтты congratulations congrats happy",
    "broken": "слома разбит разруш поврежд неисправ бұзыл сынған сынық істемей broken damaged destroyed",
    "again": "опять снова очередн постоянн каждый регулярн тағы тағыда үнемі again still every",
    "duration": (
        "неделю недел месяц день дня дней сутки суток час апта ай күн сағат week weeks month months days "
        "hours"
    ),
    "already": "уже әлі already",
    "danger": "опасн угроз страшн риск жизн қауіп қауіпті қорқынышты dangerous danger risk",
    "children": "дет ребен ребят малыш дочь бала балалар баланың kids children child son daughter",
    "urgent": "срочно помогите быстрее немедленно шұғыл тез көмектес urgent asap immediately help",
    "fire": "пожар горит огонь пламя возгоран өрт жалын fire burning flames",
    "fell": (
        "упал упала рухнул обрушил обвал провалил висит свисает құлап құлады ілініп fell fallen collapsed"
    ),
    "sarcasm": "браво ага",
    "negation": (
        "нет нету без не жоқ жок ешкім ешқандай никто никак ничего no not never nobody nothing without"
    ),
}


# A thank-you next to a problem marker is usually sarcasm ("спасибо акимат, пятый день без воды 👏");
# next to a fix it is real gratitude ("спасибо, что починили лифт"). The model weighs both.
_PROBLEM_MARKERS = frozenset({"negation", "broken", "again", "duration", "already", "how_long"})
_SARCASM_EMOJI = frozenset("👏🙃🤡👍😂🤦😡🤬🙄💩🎉🥳")


def derived_concepts(concepts: list[str], words: list[str]) -> list[str]:
    """Concepts built from other concepts: thanks with a problem, thanks with a fix, mocking emoji."""
    found = set(concepts)
    out: list[str] = []
    emoji = any(w in _SARCASM_EMOJI for w in words)
    problem = bool(found & _PROBLEM_MARKERS)
    if "thanks" in found or "praise" in found:
        if problem:
            out.append("thanks_problem")
        if "fixed" in found:
            out.append("thanks_fixed")
        if emoji:
            out.append("thanks_emoji")
    if emoji and problem:
        out.append("emoji_problem")
    return out


class Lexicon:
    """Finds the concepts of normalised words; thread-safe (read-only after construction)."""

    def __init__(self, concepts: dict[str, str] | None = None) -> None:
        source = CONCEPTS if concepts is None else concepts
        cyrillic: list[tuple[str, str]] = []
        latin: list[tuple[str, str]] = []
        cross: list[tuple[str, str]] = []
        for concept, stems in source.items():
            for raw in stems.split():
                stem = normalize(raw).replace(" ", "")
                if not stem:
                    continue
                if is_cyrillic(stem):
                    cyrillic.append((stem, concept))
                    cross.append((fold_token(stem), concept))
                elif is_latin(stem) or stem.isdigit():
                    latin.append((stem, concept))
        self._cyrillic = StemIndex(cyrillic, latin=False)
        self._latin = StemIndex(latin, latin=True)
        self._cross = StemIndex(cross, latin=True)

    def concepts(self, words: list[str], *, latin_cross: bool) -> list[str]:
        """The concept names of `words` (normalised tokens), one per matching word, in order."""
        out: list[str] = []
        for word in words:
            if is_cyrillic(word):
                out.extend(self._cyrillic.lookup(word))
            elif word.isdigit():
                out.extend(self._latin.lookup(word))
            else:
                found = self._latin.lookup(word)
                if latin_cross:
                    crossed = self._cross.lookup(word)
                    if crossed:
                        found = found + crossed if found else crossed
                out.extend(found)
        out.extend(derived_concepts(out, words))
        return out
