"""Synthetic watchlists and travellers for benchmarks and tests: names from many cultures and scripts.

Strategy: each culture has a pool of real given names, a pool of given names composed from its
syllables, and surnames composed from a syllable table (plus a few very common fixed surnames), so
a million entries have realistic name diversity: exact duplicate full names are rare (as on real
lists), while common tokens (MOHAMMED, LI, KIM, SMITH) still appear thousands of times, which is
what makes candidate generation hard. Pools are built once per culture with a fixed seed.

Travellers are either fresh people drawn from the same cultures (not listed: a caller-supplied
`is_listed` check rejects draws whose name happens to be on the list) or listed people presented
the way travellers differ from lists: romanised when the list gives an original script (passports
are written in Latin), typos, name order swapped, a middle name dropped, joined or split tokens,
year-only or shifted dates of birth, OCR-damaged document numbers. Everything is driven by one
`random.Random(seed)` per call: same seed, same data.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from watchlists.models import Category, Document, NameVariant, PartialDate, ScreeningQuery, WatchlistEntry
from watchlists.normalise import to_ascii


@dataclass(frozen=True)
class Culture:
    name: str
    nationalities: tuple[str, ...]
    given: tuple[str, ...]
    syllables: tuple[str, ...]
    surname_parts: tuple[int, int]  # min, max syllables in a composed surname
    fixed_surnames: tuple[str, ...] = ()
    compose_given: bool = False  # Han/Hangul: given names are composed from syllables only
    family_first: bool = False
    given_pool: int = 1500  # given names composed from the syllables, beside the real ones


def _hangul(initials: str, medials: str, finals: str) -> tuple[str, ...]:
    """Hangul syllables from jamo indices (initial, medial, final), e.g. 김 = (0, 20, 16)."""
    cho = [int(c, 36) for c in initials]
    jung = [int(c, 36) for c in medials]
    jong = [int(c, 36) for c in finals]
    return tuple(chr(0xAC00 + (i * 21 + m) * 28 + f) for i in cho for m in jung for f in jong)


CULTURES: tuple[Culture, ...] = (
    Culture("arabic_latin", ("SA", "EG", "IQ", "SY", "YE", "JO", "LY", "SD"),
            ("MOHAMMED", "AHMED", "ALI", "OMAR", "HASSAN", "HUSSEIN", "KHALID", "YUSUF", "IBRAHIM", "ABDULLAH",
             "MAHMOUD", "SAMI", "TARIQ", "FAISAL", "HAMZA", "BILAL", "FATIMA", "AISHA", "MARYAM", "ZAINAB",
             "SALEM", "NABIL", "WALID", "RASHID", "ADNAN", "JAMAL", "KARIM", "MUSTAFA", "NOUR", "LAYLA"),
            ("BA", "DA", "HA", "JA", "KA", "MA", "NA", "QA", "RA", "SA", "TA", "ZA", "RI", "DI", "MI", "HUR",
             "SUL", "TAN", "RAH", "MAN", "WAN", "DIN", "ZAL", "FIQ", "RUB", "SHA", "KHA", "GHA", "NOU", "BAT",
             "HAM", "DAN", "LEH", "WIL", "FAR", "JAB", "SOU", "KOR", "AWI", "MEH"), (2, 3),
            ("AL-SHAMMARI", "AL-TIKRITI", "HADDAD", "KHALIL", "MANSOUR", "NASSER", "SALEH", "OTHMAN")),
    Culture("arabic_script", ("IQ", "SY", "EG", "SA"),
            ("محمد", "أحمد", "علي", "عمر", "حسن", "حسين", "خالد", "يوسف", "إبراهيم", "عبدالله", "فاطمة", "عائشة",
             "سالم", "نبيل", "وليد", "رشيد", "جمال", "كريم", "مصطفى", "نور"),
            ("ال", "حـ", "سل", "مـ", "كر", "نـ", "عب", "رح", "طا", "ز", "قـ", "بـ", "ف", "ش", "ها", "دي", "جا",
             "لو", "صا", "غا", "وي", "تو", "نا", "مي", "رو", "سو", "ظا", "خو"), (2, 3)),
    Culture("persian", ("IR", "AF"),
            ("REZA", "HOSSEIN", "MEHDI", "AMIR", "ZAHRA", "MARYAM", "DARIUSH", "FARID", "NASRIN", "PARVIZ",
             "BABAK", "KAMRAN", "SHIRIN", "NEDA", "OMID", "ARASH", "SIMA", "BEHROUZ"),
            ("RA", "HI", "MI", "ZA", "DEH", "KHA", "NI", "POUR", "ZADEH", "VAND", "SHA", "FAR", "BAKH", "JAM",
             "SHID", "GOL", "NAV", "ABA", "DAR", "MAH", "TAB", "RIZ", "KAZ", "EMI", "SAF", "BEH", "ROU", "ZAN"),
            (2, 3)),
    Culture("russian_cyrillic", ("RU", "BY", "UA", "KZ"),
            ("Иван", "Алексей", "Сергей", "Дмитрий", "Ольга", "Наталья", "Андрей", "Михаил", "Елена", "Павел",
             "Николай", "Татьяна", "Юрий", "Виктор", "Анна", "Максим", "Игорь", "Светлана"),
            ("Пет", "Ив", "Смир", "Кузн", "Сок", "Попо", "Лебед", "Коз", "Нов", "Мор", "Вол", "ров", "ов", "ев",
             "ин", "ский", "Бел", "Гром", "Зай", "Мед", "Орл", "Рыб", "Тар", "Фед", "Хол", "Чер", "Шуб", "ян",
             "ко", "ук", "ич"), (2, 3)),
    Culture("russian_latin", ("RU", "BY", "UA"),
            ("IVAN", "ALEKSEI", "SERGEY", "DMITRY", "OLGA", "NATALIA", "ANDREI", "MIKHAIL", "YELENA", "PAVEL",
             "NIKOLAI", "TATIANA", "YURI", "VIKTOR", "ANNA", "MAKSIM", "IGOR", "SVETLANA"),
            ("PET", "IV", "SMIR", "KUZ", "NE", "SOK", "POP", "LEB", "KOZ", "NOV", "MOR", "OV", "EV", "IN", "SKY",
             "ENKO", "BEL", "GROM", "ZAI", "MED", "ORL", "RYB", "TAR", "FED", "KHOL", "CHER", "SHUB", "YAN", "KO",
             "UK", "ICH"), (2, 3)),
    Culture("chinese", ("CN", "TW", "SG"),
            (), tuple("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文志海云龙小玉兰红梅春晓晨阳光辉鹏飞宇"
                      "浩然博涵子轩睿哲思琪雨欣怡佳慧颖婷雪冰清源泽宁安康乐嘉俊凯毅恒德正成天永福寿祥瑞"
                      "东南北中山川林森松柏竹菊荷莲凤鸣鹤翔宏伦义礼仁信忠孝贤良淑慧敬诚朗晴露霜彤璐瑶琳珊"
                      "婉婕妍倩蓉萍茜薇蕾芸莉晶鑫磊鹏昊天宸逸辰皓煜铭泓澄沐阳远航奇峰岩涛波洪渊锦绣"),
            (1, 1),
            (*"王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余于杜叶程"
               "魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛", "欧阳", "司马", "诸葛"),
            compose_given=True, family_first=True),
    Culture("korean", ("KR", "KP"),
            (), _hangul("0235679bcei", "0148cdhk", "048gl"), (1, 1),
            ("김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권", "황", "안",
             "송", "류", "전", "홍", "고", "문", "양", "손", "배", "백", "허", "남", "리"),
            compose_given=True, family_first=True),
    Culture("hindi", ("IN", "NP"),
            ("राहुल", "अमित", "सुनीता", "प्रिया", "विजय", "अनिल", "पूजा", "रवि", "सीमा", "संजय", "दीपक", "नेहा", "अजय",
             "कविता", "सुरेश", "अंजलि"),
            ("शर्", "मा", "वर्", "गु", "प्ता", "सिं", "ह", "पटे", "ल", "कु", "मार", "रा", "जा", "चौ", "धरी", "या",
             "दव", "मि", "श्र", "ति", "वा", "री", "नंद", "देव", "प्र", "सा", "द"), (2, 3)),
    Culture("thai", ("TH",),
            ("สมชาย", "สมศักดิ์", "สุดา", "มาลี", "ประเสริฐ", "วิชัย", "นิภา", "อนันต์", "สมพร", "ชัยวัฒน์", "วันดี",
             "สุรชัย"),
            ("ศรี", "สุข", "ใจ", "ดี", "รัก", "ทอง", "วง", "ศ์", "แก้ว", "มณี", "จันทร์", "บุญ", "เพ็ญ", "สวัสดิ์",
             "พร", "ชัย", "กุล", "รัตน์", "นาค", "ปาน", "เจริญ", "วิเศษ"), (2, 3)),
    Culture("greek", ("GR", "CY"),
            ("Γιώργος", "Νίκος", "Μαρία", "Ελένη", "Δημήτρης", "Κώστας", "Γιάννης", "Αικατερίνη", "Βασίλης",
             "Σοφία", "Παναγιώτης", "Χρήστος"),
            ("Πα", "πα", "δό", "που", "λος", "Νι", "κο", "λά", "ου", "Γε", "ωρ", "γί", "Κα", "ρα", "μα", "νής",
             "Βλα", "χος", "Σταυ", "ρί", "δης", "Μη", "τσο", "τά", "κης"), (2, 4)),
    Culture("hebrew", ("IL",),
            ("משה", "דוד", "שרה", "רחל", "יוסף", "אברהם", "יעקב", "מרים", "אסתר", "שמואל", "נועה", "איתן"),
            ("כה", "ן", "לוי", "מז", "רחי", "פר", "ץ", "בי", "טון", "גו", "לד", "שט", "רן", "אב", "רמו", "ביץ",
             "זי", "גל", "בר", "עמ", "ית"), (2, 3)),
    Culture("english", ("GB", "US", "CA", "AU", "IE"),
            ("JOHN", "MICHAEL", "DAVID", "JAMES", "ROBERT", "MARY", "SARAH", "JENNIFER", "WILLIAM", "ELIZABETH",
             "THOMAS", "EMMA", "OLIVER", "SOPHIE", "DANIEL", "LAURA", "GEORGE", "CHARLOTTE", "HENRY", "LUCY",
             "PETER", "ANNE", "RICHARD", "KATHERINE", "EDWARD", "HELEN"),
            ("ASH", "BROOK", "FORD", "TON", "WOOD", "HAM", "LEY", "FIELD", "MOR", "CART", "WRIGHT", "SON", "HILL",
             "BAR", "WELL", "STONE", "MAN", "DALE", "WORTH", "BY", "COTT", "LAND", "GATE", "BRIDGE", "HART",
             "WIN", "FAIR", "CLIFF", "NOR", "SHAW", "KIN", "LOW"), (2, 3),
            ("SMITH", "JONES", "TAYLOR", "BROWN", "WILLIAMS", "WILSON", "JOHNSON", "DAVIES", "MILLER")),
    Culture("hispanic", ("ES", "MX", "CO", "AR", "VE", "PE"),
            ("JOSE", "JUAN", "CARLOS", "MARIA", "LUIS", "ANA", "JORGE", "CARMEN", "PEDRO", "LUCIA", "MIGUEL",
             "ALEJANDRO", "SOFIA", "DIEGO", "ISABEL", "RAFAEL", "PILAR", "ANTONIO", "ROSA", "FRANCISCO"),
            ("GAR", "CIA", "ROD", "RI", "GUEZ", "MAR", "TI", "NEZ", "LO", "PEZ", "SAN", "CHEZ", "FER", "NAN", "DEZ",
             "VAR", "GAS", "RA", "MI", "REZ", "OR", "TEGA", "CAS", "TRO", "VI", "LLA", "MEN", "DO", "ZA", "BAL"),
            (2, 3)),
    Culture("turkic", ("TR", "AZ", "UZ", "TM"),
            ("MEHMET", "MUSTAFA", "AYSE", "EMINE", "HASAN", "HUSEYIN", "MURAT", "ELIF", "RUSTAM", "DILNOZA",
             "EMRE", "ZEYNEP", "BURAK", "SEVGI", "OKTAY", "GULNARA", "TIMUR", "AYDIN"),
            ("YIL", "DIZ", "KAYA", "DEMIR", "SAHIN", "CELIK", "OZ", "TURK", "AR", "SLAN", "OGLU", "BEK", "OV", "KAR",
             "TAS", "GUL", "ER", "DOG", "AN", "KUR", "TAN", "BAY", "SOY", "ALP", "TEK", "IN", "CAN"), (2, 3)),
    Culture("african", ("NG", "KE", "CD", "SO", "ET", "ML"),
            ("OLUWASEUN", "CHINEDU", "AMINA", "KWAME", "ABDI", "FARAH", "MAMADOU", "FATOUMATA", "JEAN", "GRACE",
             "EMEKA", "NGOZI", "KOFI", "AMARA", "TENDAI", "WANJIRU", "SEKOU", "HALIMA"),
            ("OKO", "NKE", "ADE", "BAYO", "MWA", "NGI", "KIP", "TOO", "DIA", "LLO", "KEI", "TA", "WA", "MBA",
             "HA", "ROW", "OLU", "CHI", "EZE", "KAM", "BU", "SSA", "TRA", "ORE", "NDU", "GBE", "KU", "MO"), (2, 3)),
)

_OCR = {"0": "O", "1": "I", "5": "S", "8": "B"}


@cache
def _given_pool(culture: Culture) -> tuple[str, ...]:
    """Given names composed from the culture's syllables (drawn 65 % of the time; real names 35 %)."""
    rng = random.Random(f"given:{culture.name}")
    return tuple(sorted({"".join(rng.choice(culture.syllables) for _ in range(rng.randint(2, 3)))
                         for _ in range(culture.given_pool)}))


def _surname(rng: random.Random, culture: Culture) -> str:
    if culture.fixed_surnames and (not culture.syllables or culture.compose_given or rng.random() < 0.05):
        return rng.choice(culture.fixed_surnames)
    lo, hi = culture.surname_parts
    parts = lo if hi == lo or rng.random() < 0.15 else rng.randint(lo + 1, hi)
    return "".join(rng.choice(culture.syllables) for _ in range(parts))


def _given(rng: random.Random, culture: Culture) -> str:
    if culture.compose_given:
        return "".join(rng.choice(culture.syllables) for _ in range(1 if rng.random() < 0.05 else 2))
    return rng.choice(culture.given if rng.random() < 0.35 else _given_pool(culture))


def _person(rng: random.Random, culture: Culture | None = None) -> tuple[Culture, str, str, str]:
    culture = culture or rng.choice(CULTURES)
    surname = _surname(rng, culture)
    given = _given(rng, culture)
    if not culture.compose_given and rng.random() < 0.4:
        given += " " + _given(rng, culture)
    full = f"{surname} {given}" if culture.family_first else f"{given} {surname}"
    return culture, surname, given, full


def _document_number(rng: random.Random) -> str:
    return rng.choice("ABCEHKMNPRTX") + "".join(rng.choice("0123456789") for _ in range(8))


def synthetic_entries(n: int, *, seed: int = 0, list_name: str = "SYNTH") -> Iterator[WatchlistEntry]:
    """`n` listed people (5 % organisations, 5 % lost/stolen documents), deterministic for a seed.

    A generator: a consumer such as `WatchlistIndex.build` can index a million entries without
    ever holding them all."""
    rng = random.Random(seed)
    for i in range(n):
        roll = rng.random()
        entry_id = f"{list_name}-{i:07d}"
        if roll < 0.05:
            doc = Document.model_construct(number=_document_number(rng), doc_type="P",
                                           country=rng.choice(rng.choice(CULTURES).nationalities), note=None)
            yield WatchlistEntry.model_construct(id=entry_id, list=list_name, category=Category.DOCUMENT, names=[],
                                                 dates_of_birth=[], nationalities=[], gender=None,
                                                 documents=[doc], source_ref=None)
            continue
        culture, surname, _given_name, full = _person(rng)
        names = [NameVariant.model_construct(name=full, kind="primary", quality=None)]
        if rng.random() < 0.4:
            alias = f"{_given(rng, culture)} {surname}"
            names.append(NameVariant.model_construct(name=alias, kind="alias" if rng.random() < 0.7 else "weak_alias",
                                                     quality=None))
        category = Category.ENTITY if roll < 0.10 else Category.INDIVIDUAL
        if category is Category.ENTITY:
            names = [NameVariant.model_construct(name=f"{surname} {rng.choice(['TRADING', 'GROUP', 'HOLDING'])} "
                                                      f"{rng.choice(['CORP', 'LLC', 'LTD', 'COMPANY'])}",
                                                 kind="primary", quality=None)]
        year = rng.randint(1940, 2000)
        month = rng.randint(1, 12) if rng.random() < 0.7 else None
        dob = PartialDate.model_construct(year=year, month=month, day=rng.randint(1, 28) if month else None,
                                          year_to=None, approximate=False)
        docs = [Document.model_construct(number=_document_number(rng), doc_type="P", country=culture.nationalities[0],
                                         note=None)] if rng.random() < 0.3 else []
        yield WatchlistEntry.model_construct(
            id=entry_id, list=list_name, category=category, names=names,
            dates_of_birth=[dob] if category is Category.INDIVIDUAL and rng.random() < 0.85 else [],
            nationalities=[rng.choice(culture.nationalities)] if rng.random() < 0.8 else [],
            gender=None, documents=docs, source_ref=None)


def _typo(rng: random.Random, token: str) -> str:
    if len(token) < 4 or not token.isascii():
        return token
    i = rng.randrange(1, len(token) - 1)
    op = rng.random()
    if op < 0.25:
        return token[:i] + token[i + 1:]  # deletion
    if op < 0.5:
        return token[:i] + token[i] + token[i:]  # doubling
    if op < 0.75:
        return token[:i - 1] + token[i] + token[i - 1] + token[i + 1:]  # transposition
    return token[:i] + rng.choice("AEIOUY") + token[i + 1:]  # vowel substitution


def mangle(rng: random.Random, entry: WatchlistEntry, traveller_id: str) -> ScreeningQuery:
    """Present a listed person the way a traveller's data differs from the list."""
    name = rng.choice(entry.names).name
    if not name.isascii() and rng.random() < 0.6:
        name = to_ascii(name).upper()  # the passport gives the romanised name
    tokens: list[str] = name.split()
    roll = rng.random()
    if roll < 0.25 and len(tokens) > 1:
        tokens = tokens[1:] + tokens[:1]  # order swapped
    elif roll < 0.55:
        k = rng.randrange(len(tokens))
        tokens[k] = _typo(rng, tokens[k])
    elif roll < 0.65 and len(tokens) > 2:
        del tokens[rng.randrange(1, len(tokens) - 1)]  # middle name dropped (never the first or last)
    elif roll < 0.72 and len(tokens) > 1:
        k = rng.randrange(len(tokens) - 1)
        tokens[k:k + 2] = [tokens[k] + tokens[k + 1]]  # joined tokens
    elif roll < 0.77 and len(tokens[-1]) >= 8 and tokens[-1].isascii():
        cut = rng.randrange(3, len(tokens[-1]) - 3)
        tokens[-1:] = [tokens[-1][:cut], tokens[-1][cut:]]  # split token
    dob = entry.dates_of_birth[0] if entry.dates_of_birth else None
    dob_text = None
    if dob is not None:
        dob_text = str(dob) if rng.random() < 0.8 else str(dob.year + rng.choice((-1, 1)))
    doc = entry.documents[0].number if entry.documents and rng.random() < 0.5 else None
    if doc is not None and rng.random() < 0.3:
        doc = "".join(_OCR.get(c, c) for c in doc)
    return ScreeningQuery(id=traveller_id, full_name=" ".join(tokens), date_of_birth=dob_text,
                          nationality=entry.nationalities[0] if entry.nationalities else None, document_number=doc)


def synthetic_travellers(n: int, *, seed: int = 1, listed: list[WatchlistEntry] | None = None,
                         listed_share: float = 0.0,
                         is_listed: Callable[[str], bool] | None = None) -> list[tuple[ScreeningQuery, str | None]]:
    """`n` travellers with the id of the entry each really is (None for people not listed).

    Listed travellers are mangled presentations of `listed` entries (individuals only; pass a
    sample, not the whole list). Unlisted travellers are fresh people of the same cultures;
    `is_listed(full_name)`, when given, rejects a fresh draw whose name is on the list."""
    rng = random.Random(seed)
    people = [e for e in (listed or []) if e.category is Category.INDIVIDUAL]
    out: list[tuple[ScreeningQuery, str | None]] = []
    for i in range(n):
        if people and rng.random() < listed_share:
            entry = rng.choice(people)
            out.append((mangle(rng, entry, f"T{i}"), entry.id))
            continue
        culture, _, _, full = _person(rng)
        while is_listed is not None and is_listed(full):
            culture, _, _, full = _person(rng, culture)
        if not full.isascii() and rng.random() < 0.6:
            full = to_ascii(full).upper()
        dob = f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        out.append((ScreeningQuery(id=f"T{i}", full_name=full, date_of_birth=dob,
                                   nationality=rng.choice(culture.nationalities),
                                   document_number=_document_number(rng)), None))
    return out
