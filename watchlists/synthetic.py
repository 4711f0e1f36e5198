"""Synthetic watchlists and travellers for benchmarks and tests: names from many cultures and scripts.

Strategy: each culture has a small pool of real given names and a syllable table from which
surnames (and, for Han and Hangul, given names) are composed, so a million entries have a
realistic long tail of rare tokens next to very common ones (MOHAMMED, LI, KIM, JOHN), which is
what makes candidate generation hard. Travellers are either fresh people drawn from the same
pools (not listed) or listed people presented the way travellers differ from lists: typos, name
order swapped, a middle name dropped, joined or split tokens, year-only or shifted dates of birth,
OCR-damaged document numbers. Everything is driven by one `random.Random(seed)`: same seed, same data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from watchlists.models import Category, Document, NameVariant, PartialDate, ScreeningQuery, WatchlistEntry


@dataclass(frozen=True)
class Culture:
    name: str
    nationalities: tuple[str, ...]
    given: tuple[str, ...]
    syllables: tuple[str, ...]
    surname_parts: tuple[int, int]  # min, max syllables in a composed surname
    fixed_surnames: tuple[str, ...] = ()
    compose_given: bool = False  # Han/Hangul: given names are composed from syllables too
    joiner: str = ""
    family_first: bool = False


CULTURES: tuple[Culture, ...] = (
    Culture("arabic_latin", ("SA", "EG", "IQ", "SY", "YE", "JO", "LY", "SD"),
            ("MOHAMMED", "AHMED", "ALI", "OMAR", "HASSAN", "HUSSEIN", "KHALID", "YUSUF", "IBRAHIM", "ABDULLAH",
             "MAHMOUD", "SAMI", "TARIQ", "FAISAL", "HAMZA", "BILAL", "FATIMA", "AISHA", "MARYAM", "ZAINAB"),
            ("AL", "BA", "DA", "HA", "JA", "KA", "MA", "NA", "QA", "RA", "SA", "TA", "ZA", "RI", "DI", "MI",
             "HUR", "SUL", "TAN", "RAH", "MAN", "WAN", "DIN", "ZAL", "FIQ", "RUB"), (2, 3),
            ("AL-SHAMMARI", "AL-TIKRITI", "HADDAD", "KHALIL", "MANSOUR", "NASSER", "SALEH", "OTHMAN")),
    Culture("arabic_script", ("IQ", "SY", "EG", "SA"),
            ("محمد", "أحمد", "علي", "عمر", "حسن", "حسين", "خالد", "يوسف", "إبراهيم", "عبدالله", "فاطمة", "عائشة"),
            ("ال", "حـ", "سل", "مـ", "كر", "نـ", "عب", "رح", "طا", "ز", "قـ", "بـ", "ف", "ش"), (2, 3)),
    Culture("persian", ("IR", "AF"),
            ("REZA", "HOSSEIN", "MEHDI", "AMIR", "ZAHRA", "MARYAM", "DARIUSH", "FARID", "NASRIN", "PARVIZ"),
            ("RA", "HI", "MI", "ZA", "DEH", "KHA", "NI", "POUR", "ZADEH", "VAND", "SHA", "FAR", "BAKH"), (2, 3)),
    Culture("russian_cyrillic", ("RU", "BY", "UA", "KZ"),
            ("Иван", "Алексей", "Сергей", "Дмитрий", "Ольга", "Наталья", "Андрей", "Михаил", "Елена", "Павел"),
            ("Пет", "Ив", "Смир", "Кузн", "Сок", "Попо", "Лебед", "Коз", "Нов", "Мор", "Вол", "ров", "ов", "ев",
             "ин", "ский"), (2, 3)),
    Culture("russian_latin", ("RU", "BY", "UA"),
            ("IVAN", "ALEKSEI", "SERGEY", "DMITRY", "OLGA", "NATALIA", "ANDREI", "MIKHAIL", "YELENA", "PAVEL"),
            ("PET", "IV", "SMIR", "KUZ", "NE", "SOK", "POP", "LEB", "KOZ", "NOV", "MOR", "OV", "EV", "IN", "SKY",
             "ENKO"), (2, 3)),
    Culture("chinese", ("CN", "TW", "SG"),
            (), ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
                 "秀", "霞", "平", "刚", "桂", "英", "华", "建", "国", "文", "志", "海", "云", "龙", "小"), (1, 1),
            ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林",
             "罗", "高", "欧阳", "司马"), compose_given=True, family_first=True),
    Culture("korean", ("KR", "KP"),
            (), ("민", "준", "서", "연", "지", "현", "우", "영", "수", "진", "성", "호", "정", "은", "혜", "철"),
            (1, 1),
            ("김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "리"), compose_given=True,
            family_first=True),
    Culture("hindi", ("IN", "NP"),
            ("राहुल", "अमित", "सुनीता", "प्रिया", "विजय", "अनिल", "पूजा", "रवि", "सीमा", "संजय"),
            ("शर्", "मा", "वर्", "गु", "प्ता", "सिं", "ह", "पटे", "ल", "कु", "मार", "रा", "जा"), (2, 3)),
    Culture("thai", ("TH",),
            ("สมชาย", "สมศักดิ์", "สุดา", "มาลี", "ประเสริฐ", "วิชัย", "นิภา", "อนันต์"),
            ("ศรี", "สุข", "ใจ", "ดี", "รัก", "ทอง", "วง", "ศ์", "แก้ว", "มณี", "จันทร์"), (2, 3)),
    Culture("greek", ("GR", "CY"),
            ("Γιώργος", "Νίκος", "Μαρία", "Ελένη", "Δημήτρης", "Κώστας"),
            ("Πα", "πα", "δό", "που", "λος", "Νι", "κο", "λά", "ου", "Γε", "ωρ", "γί"), (2, 4)),
    Culture("hebrew", ("IL",), ("משה", "דוד", "שרה", "רחל", "יוסף", "אברהם"),
            ("כה", "ן", "לוי", "מז", "רחי", "פר", "ץ", "בי", "טון"), (2, 3)),
    Culture("english", ("GB", "US", "CA", "AU", "IE"),
            ("JOHN", "MICHAEL", "DAVID", "JAMES", "ROBERT", "MARY", "SARAH", "JENNIFER", "WILLIAM", "ELIZABETH",
             "THOMAS", "EMMA", "OLIVER", "SOPHIE", "DANIEL", "LAURA"),
            ("ASH", "BROOK", "FORD", "TON", "WOOD", "HAM", "LEY", "FIELD", "MOR", "CART", "WRIGHT", "SON", "HILL",
             "BAR", "WELL", "STONE", "MAN", "DALE"), (2, 3),
            ("SMITH", "JONES", "TAYLOR", "BROWN", "WILLIAMS", "WILSON", "JOHNSON", "DAVIES", "MILLER")),
    Culture("hispanic", ("ES", "MX", "CO", "AR", "VE", "PE"),
            ("JOSE", "JUAN", "CARLOS", "MARIA", "LUIS", "ANA", "JORGE", "CARMEN", "PEDRO", "LUCIA", "MIGUEL"),
            ("GAR", "CIA", "ROD", "RI", "GUEZ", "MAR", "TI", "NEZ", "LO", "PEZ", "SAN", "CHEZ", "FER", "NAN", "DEZ",
             "VAR", "GAS", "RA", "MI", "REZ"), (2, 3)),
    Culture("turkic", ("TR", "AZ", "UZ", "TM"),
            ("MEHMET", "MUSTAFA", "AYSE", "EMINE", "HASAN", "HUSEYIN", "MURAT", "ELIF", "RUSTAM", "DILNOZA"),
            ("YIL", "DIZ", "KAYA", "DEMIR", "SAHIN", "CELIK", "OZ", "TURK", "AR", "SLAN", "OGLU", "BEK", "OV"),
            (2, 3)),
    Culture("african", ("NG", "KE", "CD", "SO", "ET", "ML"),
            ("OLUWASEUN", "CHINEDU", "AMINA", "KWAME", "ABDI", "FARAH", "MAMADOU", "FATOUMATA", "JEAN", "GRACE"),
            ("OKO", "NKE", "ADE", "BAYO", "MWA", "NGI", "KIP", "TOO", "DIA", "LLO", "KEI", "TA", "WA", "MBA",
             "HA", "ROW"), (2, 3)),
)

_OCR = {"0": "O", "1": "I", "5": "S", "8": "B"}


def _surname(rng: random.Random, culture: Culture) -> str:
    if culture.fixed_surnames and (rng.random() < 0.35 or not culture.syllables):
        return rng.choice(culture.fixed_surnames)
    lo, hi = culture.surname_parts
    return culture.joiner.join(rng.choice(culture.syllables) for _ in range(rng.randint(lo, hi)))


def _given(rng: random.Random, culture: Culture) -> str:
    if culture.compose_given:
        return "".join(rng.choice(culture.syllables) for _ in range(rng.randint(1, 2)))
    return rng.choice(culture.given)


def _person(rng: random.Random) -> tuple[Culture, str, str, str]:
    culture = rng.choice(CULTURES)
    surname = _surname(rng, culture)
    given = _given(rng, culture)
    if not culture.compose_given and rng.random() < 0.4:
        given += " " + _given(rng, culture)
    full = f"{surname} {given}" if culture.family_first else f"{given} {surname}"
    return culture, surname, given, full


def _document_number(rng: random.Random) -> str:
    return rng.choice("ABCEHKMNPRTX") + "".join(rng.choice("0123456789") for _ in range(8))


def synthetic_entries(n: int, *, seed: int = 0, list_name: str = "SYNTH") -> Iterator[WatchlistEntry]:
    """`n` listed people (5 % organisations, 5 % lost/stolen documents), deterministic for a seed."""
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
        dob = PartialDate.model_construct(year=year, month=rng.randint(1, 12) if rng.random() < 0.7 else None,
                                          day=None, year_to=None, approximate=False)
        if dob.month is not None:
            dob = PartialDate.model_construct(year=year, month=dob.month, day=rng.randint(1, 28), year_to=None,
                                              approximate=False)
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
    if op < 0.33:
        return token[:i] + token[i + 1:]
    if op < 0.66:
        return token[:i] + token[i] + token[i:]
    return token[:i - 1] + token[i] + token[i - 1] + token[i + 1:]


def mangle(rng: random.Random, entry: WatchlistEntry, traveller_id: str) -> ScreeningQuery:
    """Present a listed person the way a traveller's data differs from the list."""
    tokens: list[str] = rng.choice(entry.names).name.split()
    roll = rng.random()
    if roll < 0.3 and len(tokens) > 1:
        tokens = tokens[1:] + tokens[:1]  # order swapped
    elif roll < 0.6:
        k = rng.randrange(len(tokens))
        tokens[k] = _typo(rng, tokens[k])
    elif roll < 0.7 and len(tokens) > 2:
        del tokens[rng.randrange(1, len(tokens))]  # middle name dropped
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
                         listed_share: float = 0.0) -> list[tuple[ScreeningQuery, str | None]]:
    """`n` travellers with the id of the entry each really is (None for people not listed)."""
    rng = random.Random(seed)
    people = [e for e in (listed or []) if e.category is Category.INDIVIDUAL]
    out: list[tuple[ScreeningQuery, str | None]] = []
    for i in range(n):
        if people and rng.random() < listed_share:
            entry = rng.choice(people)
            out.append((mangle(rng, entry, f"T{i}"), entry.id))
            continue
        culture, _, _, full = _person(rng)
        dob = f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        out.append((ScreeningQuery(id=f"T{i}", full_name=full, date_of_birth=dob,
                                   nationality=rng.choice(culture.nationalities),
                                   document_number=_document_number(rng)), None))
    return out
