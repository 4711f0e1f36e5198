"""Development name pairs for the screening accuracy bench: (listed name, traveller name, same person?).

Strategy: every pair is built deterministically (one seeded `random.Random` per category) from
public material that is not a held-out set: the UN/OFAC/UK lists, the yente candidate-generation
fixtures, Faker's locale name tables, pypinyin, two nickname tables (rigour's and the `nicknames`
package's, half the pairs each) and tables written here
(ICAO 9303 Part 3 and national passport transliteration, Korean romanisation, short hand lists
for Hebrew and Thai). The transliteration tables are written out here on purpose, independent of
anything in `watchlists/`, so the bench does not grade the matcher with its own tables.

Each category has positives (the same person written another way) and hard negatives (another
person sharing a surname or a given name, or a similar-looking name, put through the same
transformation) so that precision means something.
"""

from __future__ import annotations

import csv
import random
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from faker import Faker
from pypinyin import Style, lazy_pinyin

from watchlists import Category, load

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LISTS = DATA / "watchlists"
FIXTURES = DATA / "name_matching_benchmarks" / "yente_candidate_generation"
LIST_FILES = (LISTS / "un_sc_consolidated_2026-02-27.xml", LISTS / "ofac_sdn_2024-05-03.csv",
              LISTS / "uk_sanctions_list_2026-05_derived")


@dataclass(frozen=True)
class Pair:
    """One labelled comparison; structured parts are set only where the source has them."""

    category: str
    listed: str
    traveller: str
    same: bool
    how: str  # which transformation or source made it (for --show-misses)
    listed_given: str | None = None
    listed_surname: str | None = None
    traveller_given: str | None = None
    traveller_surname: str | None = None
    listed_dob: str | None = None  # set only when both sides carry a date of birth
    traveller_dob: str | None = None
    listed_nationality: str | None = None  # alpha-2, set only when both sides carry one
    traveller_nationality: str | None = None


# ---------------------------------------------------------------------------------------------
# Transliteration tables (ICAO 9303 Part 3, 8th edition, section 6 and national passport practice)

ICAO_CYRILLIC = {
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Ґ": "G", "Д": "D", "Е": "E", "Ё": "E", "Є": "IE", "Ж": "ZH",
    "З": "Z", "И": "I", "І": "I", "Ї": "I", "Й": "I", "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O",
    "П": "P", "Р": "R", "С": "S", "Т": "T", "У": "U", "Ў": "U", "Ф": "F", "Х": "KH", "Ц": "TS", "Ч": "CH",
    "Ш": "SH", "Щ": "SHCH", "Ъ": "IE", "Ы": "Y", "Ь": "", "Э": "E", "Ю": "IU", "Я": "IA", "Ђ": "D",
    "Ѓ": "G", "Ѕ": "DZ", "Ј": "J", "Ќ": "K", "Љ": "LJ", "Њ": "NJ", "Ћ": "C", "Џ": "DZ",
}
# Russian internal-passport practice before 2010 (the "MVD" table) and the common YU/YA habit.
RUSSIAN_NATIONAL = {**ICAO_CYRILLIC, "Й": "Y", "Ю": "YU", "Я": "YA", "Ъ": "", "Ё": "YO"}
# Ukraine, Cabinet resolution 55 (2010): word-initial forms differ.
UKRAINIAN_NATIONAL = {**ICAO_CYRILLIC, "Г": "H", "И": "Y", "Й": "I", "Є": "IE", "Ї": "I", "Ю": "IU", "Я": "IA",
                      "Ь": ""}
UKRAINIAN_INITIAL = {"Є": "YE", "Ї": "YI", "Й": "Y", "Ю": "YU", "Я": "YA"}
# Bulgaria, Streamlined System (2009 law).
BULGARIAN_NATIONAL = {**ICAO_CYRILLIC, "Ж": "ZH", "Й": "Y", "Х": "H", "Ц": "TS", "Щ": "SHT", "Ъ": "A",
                      "Ь": "Y", "Ю": "YU", "Я": "YA"}
# Older West-European style a traveller may carry on a foreign-issued document (Ц as C, Ч as C).
CYRILLIC_LOOSE = {**ICAO_CYRILLIC, "Ц": "C", "Й": "J", "Ю": "JU", "Я": "JA", "Х": "H", "Ж": "Z", "Ш": "S",
                  "Ч": "C", "Щ": "SC"}

ICAO_GREEK = {
    "Α": "A", "Β": "V", "Γ": "G", "Δ": "D", "Ε": "E", "Ζ": "Z", "Η": "I", "Θ": "TH", "Ι": "I", "Κ": "K",
    "Λ": "L", "Μ": "M", "Ν": "N", "Ξ": "X", "Ο": "O", "Π": "P", "Ρ": "R", "Σ": "S", "Τ": "T", "Υ": "Y",
    "Φ": "F", "Χ": "CH", "Ψ": "PS", "Ω": "O",
}
# Greek passports (ELOT 743 as printed): digraphs read by sound.
GREEK_DIGRAPHS_INITIAL = {"ΜΠ": "B", "ΝΤ": "D", "ΓΚ": "G"}
GREEK_DIGRAPHS = {"ΟΥ": "OU", "ΑΥ": "AV", "ΕΥ": "EV", "ΓΓ": "NG", "ΜΠ": "MP", "ΝΤ": "NT", "ΓΚ": "GK",
                  "ΑΙ": "AI", "ΕΙ": "EI", "ΟΙ": "OI"}

ICAO_ARMENIAN = {
    "Ա": "A", "Բ": "B", "Գ": "G", "Դ": "D", "Ե": "E", "Զ": "Z", "Է": "E", "Ը": "Y", "Թ": "T", "Ժ": "ZH",
    "Ի": "I", "Լ": "L", "Խ": "KH", "Ծ": "TS", "Կ": "K", "Հ": "H", "Ձ": "DZ", "Ղ": "GH", "Ճ": "CH", "Մ": "M",
    "Յ": "Y", "Ն": "N", "Շ": "SH", "Ո": "O", "Չ": "CH", "Պ": "P", "Ջ": "J", "Ռ": "R", "Ս": "S", "Վ": "V",
    "Տ": "T", "Ր": "R", "Ց": "TS", "Ւ": "W", "Փ": "P", "Ք": "K", "Օ": "O", "Ֆ": "F", "ՈՒ": "U", "ԵՒ": "EV",
}
# Armenian passports: word-initial Ե as YE and Ո as VO, ՈՒ as OU; surname ending -ՅԱՆ printed -YAN.
ARMENIAN_INITIAL = {"Ե": "YE", "Ո": "VO"}
ARMENIAN_NATIONAL = {**ICAO_ARMENIAN, "ՈՒ": "OU", "Ղ": "GH", "Ց": "TS", "Ք": "Q", "Խ": "KH"}

ICAO_GEORGIAN = {
    "ა": "A", "ბ": "B", "გ": "G", "დ": "D", "ე": "E", "ვ": "V", "ზ": "Z", "თ": "T", "ი": "I", "კ": "K",
    "ლ": "L", "მ": "M", "ნ": "N", "ო": "O", "პ": "P", "ჟ": "ZH", "რ": "R", "ს": "S", "ტ": "T", "უ": "U",
    "ფ": "P", "ქ": "K", "ღ": "GH", "ყ": "Q", "შ": "SH", "ჩ": "CH", "ც": "TS", "ძ": "DZ", "წ": "TS", "ჭ": "CH",
    "ხ": "KH", "ჯ": "J", "ჰ": "H",
}
# Georgian national romanisation (2002) as printed in the visual zone: ejectives marked.
GEORGIAN_NATIONAL = {**ICAO_GEORGIAN, "კ": "K'", "პ": "P'", "ტ": "T'", "ყ": "Q'", "წ": "TS'", "ჭ": "CH'"}


def _strip_marks(text: str) -> str:
    """Drop accents (Greek tonos, Latin diacritics) but keep Cyrillic Й, Ё, Ї whole."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        if "CYRILLIC" in unicodedata.name(ch, ""):
            out.append(ch)
        else:
            out.extend(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    return "".join(out)


def transliterate(text: str, table: dict[str, str], initial: dict[str, str] | None = None,
                  digraphs: dict[str, str] | None = None, initial_digraphs: dict[str, str] | None = None) -> str:
    """Greedy letter-by-letter (digraphs first) transliteration of an upper-cased native name."""
    out: list[str] = []
    # Georgian stays lower case: str.upper() would turn Mkhedruli into Mtavruli capitals.
    upper = "".join(c if "\u10d0" <= c <= "\u10ff" else c.upper() for c in _strip_marks(text))
    for word in upper.split():
        res = ""
        i = 0
        while i < len(word):
            two = word[i:i + 2]
            if i == 0 and initial_digraphs and two in initial_digraphs:
                res += initial_digraphs[two]
                i += 2
            elif digraphs and two in digraphs:
                res += digraphs[two]
                i += 2
            elif two in table and len(two) == 2:
                res += table[two]
                i += 2
            elif i == 0 and initial and word[i] in initial:
                res += initial[word[i]]
                i += 1
            else:
                res += table.get(word[i], word[i] if word[i].isascii() else "")
                i += 1
        out.append(res)
    return " ".join(w for w in out if w)


def icao(text: str) -> str:
    """ICAO 9303 transliteration of Cyrillic, Greek, Armenian or Georgian (whichever the name is in)."""
    table = {**ICAO_CYRILLIC, **ICAO_GREEK, **ICAO_ARMENIAN}
    for ch in text:
        if ch in ICAO_GEORGIAN:
            return transliterate(text, {**table, **ICAO_GEORGIAN})
    return transliterate(text, table)


def national_forms(text: str, locale: str) -> list[tuple[str, str]]:
    """The ways a national passport (or an older foreign document) prints the name: (how, form)."""
    if locale == "ru_RU":
        return [("ru_mvd", transliterate(text, RUSSIAN_NATIONAL)), ("cyr_loose", transliterate(text, CYRILLIC_LOOSE))]
    if locale == "uk_UA":
        return [("ua_2010", transliterate(text, UKRAINIAN_NATIONAL, UKRAINIAN_INITIAL)),
                ("ru_style", transliterate(text, RUSSIAN_NATIONAL))]
    if locale == "bg_BG":
        return [("bg_2009", transliterate(text, BULGARIAN_NATIONAL)),
                ("cyr_loose", transliterate(text, CYRILLIC_LOOSE))]
    if locale == "el_GR":
        return [("elot743", transliterate(text, ICAO_GREEK, None, GREEK_DIGRAPHS, GREEK_DIGRAPHS_INITIAL))]
    if locale == "hy_AM":
        return [("am_passport", transliterate(text, ARMENIAN_NATIONAL, ARMENIAN_INITIAL))]
    if locale == "ka_GE":
        return [("ge_2002", transliterate(text, GEORGIAN_NATIONAL))]
    return []


# Korean: Revised Romanisation and McCune-Reischauer (without breves, as passports print it).
KO_INITIAL_RR = ["G", "KK", "N", "D", "TT", "R", "M", "B", "PP", "S", "SS", "", "J", "JJ", "CH", "K", "T", "P", "H"]
KO_INITIAL_MR = ["K", "KK", "N", "T", "TT", "R", "M", "P", "PP", "S", "SS", "", "CH", "TCH", "CH", "K", "T", "P", "H"]
KO_INITIAL_MR_VOICED = {0: "G", 3: "D", 7: "B", 12: "J"}
KO_MEDIAL_RR = ["A", "AE", "YA", "YAE", "EO", "E", "YEO", "YE", "O", "WA", "WAE", "OE", "YO", "U", "WO", "WE", "WI",
                "YU", "EU", "UI", "I"]
KO_MEDIAL_MR = ["A", "AE", "YA", "YAE", "O", "E", "YO", "YE", "O", "WA", "WAE", "OE", "YO", "U", "WO", "WE", "WI",
                "YU", "U", "UI", "I"]
KO_FINAL = ["", "K", "K", "K", "N", "N", "N", "T", "L", "K", "M", "L", "L", "L", "P", "L", "M", "P", "P", "T", "T",
            "NG", "T", "T", "K", "T", "P", "T"]
# Surname: (usual passport form, RR, MR, other passport forms)
KO_SURNAMES = {
    "김": ("KIM", "GIM", "KIM", ()), "이": ("LEE", "I", "YI", ("RHEE", "RI", "YI")),
    "박": ("PARK", "BAK", "PAK", ("BAK",)), "최": ("CHOI", "CHOE", "CHOE", ()),
    "정": ("JUNG", "JEONG", "CHONG", ("CHUNG",)), "강": ("KANG", "GANG", "KANG", ()),
    "조": ("CHO", "JO", "CHO", ()), "윤": ("YOON", "YUN", "YUN", ()), "장": ("JANG", "JANG", "CHANG", ("CHANG",)),
    "임": ("LIM", "IM", "IM", ("YIM",)), "한": ("HAN", "HAN", "HAN", ()), "오": ("OH", "O", "O", ()),
    "서": ("SEO", "SEO", "SO", ("SUH",)), "신": ("SHIN", "SIN", "SIN", ()), "권": ("KWON", "GWON", "KWON", ()),
    "황": ("HWANG", "HWANG", "HWANG", ()), "안": ("AHN", "AN", "AN", ()), "송": ("SONG", "SONG", "SONG", ()),
    "류": ("RYU", "RYU", "RYU", ("YOO", "YU")), "전": ("JEON", "JEON", "CHON", ("JUN", "CHUN")),
    "홍": ("HONG", "HONG", "HONG", ()), "고": ("KO", "GO", "KO", ()), "문": ("MOON", "MUN", "MUN", ()),
    "양": ("YANG", "YANG", "YANG", ()), "손": ("SON", "SON", "SON", ("SOHN",)), "배": ("BAE", "BAE", "PAE", ()),
    "백": ("BAEK", "BAEK", "PAEK", ("PAIK",)), "허": ("HUH", "HEO", "HO", ()), "유": ("YOO", "YU", "YU", ()),
    "남": ("NAM", "NAM", "NAM", ()), "심": ("SHIM", "SIM", "SIM", ()), "노": ("ROH", "NO", "NO", ("NOH",)),
    "하": ("HA", "HA", "HA", ()), "곽": ("KWAK", "GWAK", "KWAK", ()), "성": ("SUNG", "SEONG", "SONG", ()),
    "차": ("CHA", "CHA", "CHA", ()), "주": ("JOO", "JU", "CHU", ()), "우": ("WOO", "U", "U", ()),
    "구": ("KOO", "GU", "KU", ()), "민": ("MIN", "MIN", "MIN", ()), "진": ("JIN", "JIN", "CHIN", ()),
    "지": ("JI", "JI", "CHI", ()), "엄": ("UM", "EOM", "OM", ()), "채": ("CHAE", "CHAE", "CHAE", ()),
    "원": ("WON", "WON", "WON", ()), "천": ("CHUN", "CHEON", "CHON", ()), "방": ("BANG", "BANG", "PANG", ()),
    "공": ("KONG", "GONG", "KONG", ()), "현": ("HYUN", "HYEON", "HYON", ()), "변": ("BYUN", "BYEON", "PYON", ()),
    "염": ("YUM", "YEOM", "YOM", ()), "여": ("YEO", "YEO", "YO", ()), "추": ("CHOO", "CHU", "CHU", ()),
    "도": ("DO", "DO", "TO", ()), "소": ("SO", "SO", "SO", ()), "석": ("SEOK", "SEOK", "SOK", ()),
    "설": ("SUL", "SEOL", "SOL", ()), "마": ("MA", "MA", "MA", ()), "길": ("KIL", "GIL", "KIL", ()),
    "연": ("YEON", "YEON", "YON", ()), "표": ("PYO", "PYO", "PYO", ()), "명": ("MYUNG", "MYEONG", "MYONG", ()),
    "기": ("KI", "GI", "KI", ()), "반": ("BAN", "BAN", "PAN", ()), "왕": ("WANG", "WANG", "WANG", ()),
    "금": ("KEUM", "GEUM", "KUM", ()), "옥": ("OK", "OK", "OK", ()), "육": ("YOOK", "YUK", "YUK", ()),
    "인": ("IN", "IN", "IN", ()), "탁": ("TAK", "TAK", "TAK", ()), "국": ("KOOK", "GUK", "KUK", ()),
    "은": ("EUN", "EUN", "UN", ()), "편": ("PYUN", "PYEON", "PYON", ()), "용": ("YONG", "YONG", "YONG", ()),
    "예": ("YE", "YE", "YE", ()), "경": ("KYUNG", "GYEONG", "KYONG", ()), "봉": ("BONG", "BONG", "PONG", ()),
    "황보": ("HWANGBO", "HWANGBO", "HWANGBO", ()), "남궁": ("NAMGOONG", "NAMGUNG", "NAMGUNG", ()),
    "제갈": ("JEGAL", "JEGAL", "CHEGAL", ()), "선우": ("SUNWOO", "SEONU", "SONU", ()),
}


def _hangul_parts(syllable: str) -> tuple[int, int, int]:
    code = ord(syllable) - 0xAC00
    return code // 588, (code % 588) // 28, code % 28


def korean_given(hangul: str, system: str) -> list[str]:
    """Syllables of a Korean given name in RR or MR (MR voices a plain stop after a vowel or nasal)."""
    out: list[str] = []
    prev_final = -1
    for k, ch in enumerate(hangul):
        if not 0xAC00 <= ord(ch) <= 0xD7A3:
            continue
        ini, med, fin = _hangul_parts(ch)
        if system == "RR":
            text = KO_INITIAL_RR[ini] + KO_MEDIAL_RR[med] + KO_FINAL[fin]
        else:
            initial = KO_INITIAL_MR[ini]
            if k > 0 and ini in KO_INITIAL_MR_VOICED and prev_final in (0, 4, 8, 16, 21):
                initial = KO_INITIAL_MR_VOICED[ini]
            if ini == 9 and med == 20:
                initial = "SH"
            text = initial + KO_MEDIAL_MR[med] + KO_FINAL[fin]
        out.append(text)
        prev_final = fin
    return out


# Hand lists (no PyPI package pairs these scripts with their usual Latin forms): (native, Latin).
HEBREW_GIVEN = [("דוד", "DAVID"), ("משה", "MOSHE"), ("יוסף", "YOSEF"), ("אברהם", "AVRAHAM"), ("יצחק", "YITZHAK"),
                ("יעקב", "YAAKOV"), ("שרה", "SARAH"), ("רחל", "RACHEL"), ("לאה", "LEAH"), ("מרים", "MIRIAM"),
                ("דניאל", "DANIEL"), ("מיכאל", "MICHAEL"), ("אורי", "URI"), ("נועה", "NOA"), ("תמר", "TAMAR"),
                ("יונתן", "YONATAN"), ("שמואל", "SHMUEL"), ("אליהו", "ELIYAHU"), ("רות", "RUT"), ("חנה", "HANNA"),
                ("עמית", "AMIT"), ("איתי", "ITAI"), ("יעל", "YAEL"), ("אריאל", "ARIEL"), ("נתן", "NATAN")]
HEBREW_SURNAMES = [("כהן", "COHEN"), ("לוי", "LEVI"), ("מזרחי", "MIZRAHI"), ("פרץ", "PERETZ"), ("ביטון", "BITON"),
                   ("דהן", "DAHAN"), ("פרידמן", "FRIEDMAN"), ("אזולאי", "AZULAI"), ("מלכה", "MALKA"),
                   ("כץ", "KATZ"), ("שפירא", "SHAPIRA"), ("גולדברג", "GOLDBERG"), ("רוזנברג", "ROSENBERG"),
                   ("אוחיון", "OHAYON"), ("חדד", "HADAD"), ("גבאי", "GABAI"), ("שטרן", "STERN"),
                   ("אשכנזי", "ASHKENAZI"), ("ברק", "BARAK"), ("סגל", "SEGAL")]
THAI_GIVEN = [("สมชาย", "SOMCHAI"), ("สมศักดิ์", "SOMSAK"), ("สุดา", "SUDA"), ("ประเสริฐ", "PRASERT"),
              ("วิชัย", "WICHAI"), ("สมพร", "SOMPORN"), ("มาลี", "MALEE"), ("อนุชา", "ANUCHA"), ("ธนากร", "THANAKORN"),
              ("กิตติ", "KITTI"), ("ปรีชา", "PREECHA"), ("สุนีย์", "SUNEE"), ("วันชัย", "WANCHAI"), ("อำนาจ", "AMNAT"),
              ("นิพนธ์", "NIPHON"), ("ชัยวัฒน์", "CHAIWAT"), ("ศักดิ์ชัย", "SAKCHAI"), ("สุรชัย", "SURACHAI"),
              ("วิไล", "WILAI"), ("บุญชัย", "BOONCHAI")]
THAI_SURNAMES = [("ชินวัตร", "SHINAWATRA"), ("จันทร์โอชา", "CHANOCHA"), ("สุขสวัสดิ์", "SUKSAWAT"), ("ศรีสุข", "SRISUK"),
                 ("แก้วมณี", "KAEWMANEE"), ("ทองดี", "THONGDEE"), ("บุญมา", "BOONMA"), ("วงศ์สวัสดิ์", "WONGSAWAT"),
                 ("รัตนพันธ์", "RATTANAPHAN"), ("พรหมมา", "PROMMA"), ("สุวรรณ", "SUWAN"), ("ใจดี", "JAIDEE"),
                 ("มีสุข", "MEESUK"), ("สมบูรณ์", "SOMBOON"), ("เพชรรัตน์", "PETCHARAT"), ("ศรีวงศ์", "SRIWONG")]

PARTICLES = {"VAN", "DE", "DA", "AL", "EL", "BIN", "BEN", "IBN", "VON", "DER", "DEN", "DEL", "DOS", "DAS", "DI", "LA",
             "LE", "DU", "ABU", "BINT", "ULD", "OULD", "TEN", "TER", "VANDER", "MC", "MAC"}
SPLIT_PREFIXES = ("ABDUL", "ABDEL", "ABDUL", "ABD", "ABU", "NUR", "NOOR", "ZAIN", "SAIF", "SHAMS", "NASR", "ZAHIR",
                  "FAZL", "HABIB", "AMAN", "ATTA", "ABDOUL", "ABDI", "ABDU")
SPLIT_SUFFIXES = ("ULLAH", "ALLAH", "UDDIN", "UDDEEN", "EDDINE", "ALDIN", "RAHMAN", "RAHIM", "KARIM", "AZIZ", "MALIK",
                  "HAQ", "JABBAR", "QADIR", "WAHAB", "HAMID", "LATIF", "MAJID", "SALAM", "GHANI", "BAKR", "HAKIM")
OCR_SWAPS = {"O": "0", "I": "1", "L": "1", "E": "3", "S": "5", "B": "8", "G": "6", "Z": "2"}


# ---------------------------------------------------------------------------------------------
# Helpers


def _upper_words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s,]+", _strip_marks(text).upper()) if w]


def _skeleton(word: str) -> str:
    """Consonant skeleton, so a 'different' name is not merely a spelling variant (SALEH/SALIH)."""
    cons = re.sub(r"[AEIOUYHW\-']", "", word.upper())
    return re.sub(r"(.)\1+", r"\1", cons)


def _different(a: str, b: str) -> bool:
    return a != b and _skeleton(a) != _skeleton(b) and a[:3] != b[:3]


def _pick_other(rng: random.Random, word: str, pool: list[str], related: set[str] | None = None) -> str:
    for _ in range(50):
        cand = rng.choice(pool)
        if _different(cand, word) and (related is None or cand.lower() not in related):
            return cand
    return "ZEBEDIAH" if word != "ZEBEDIAH" else "QUENTIN"


@dataclass
class Sources:
    """Name material read once: Latin individual names from the lists, UN original-script pairs."""

    list_names: list[list[str]]  # natural order (given ... surname), upper case, individuals only
    given_pool: list[str]
    surname_pool: list[str]
    un_scripts: list[tuple[str, str, str]]  # (Latin primary, original script, entry id)


def read_sources() -> Sources:
    names: list[list[str]] = []
    un_scripts: list[tuple[str, str, str]] = []
    for path in LIST_FILES:
        result = load(path)
        for entry in result.entries:
            if entry.category != Category.INDIVIDUAL:
                continue
            words = _upper_words(entry.primary_name)
            if 2 <= len(words) <= 6 and all(w.replace("-", "").isalpha() and w.isascii() for w in words):
                names.append(words)
            if result.list_name == "UN":
                for v in entry.names:
                    if v.kind == "original_script":
                        un_scripts.append((entry.primary_name, v.name, entry.id))
    seen: set[tuple[str, ...]] = set()
    unique = []
    for n in names:
        if tuple(n) not in seen:
            seen.add(tuple(n))
            unique.append(n)
    given = sorted({n[0] for n in unique if len(n[0]) > 2 and n[0] not in PARTICLES})
    surnames = sorted({n[-1] for n in unique if len(n[-1]) > 2 and n[-1] not in PARTICLES})
    return Sources(unique, given, surnames, un_scripts)


def _faker(locale: str, seed: int) -> Faker:
    fake = Faker(locale)
    fake.seed_instance(seed)
    return fake


def _p(category: str, listed: str, traveller: str, same: bool, how: str, **kw: str | None) -> Pair:
    return Pair(category=category, listed=listed, traveller=traveller, same=same, how=how, **kw)


Builder = Callable[[Sources, random.Random, int], list[Pair]]


def _negative_person(rng: random.Random, words: list[str], src: Sources) -> list[str]:
    """Another person: same surname with another given name, or same given name with another surname."""
    out = list(words)
    if rng.random() < 0.6:
        out[0] = _pick_other(rng, out[0], src.given_pool)
    else:
        out[-1] = _pick_other(rng, out[-1], src.surname_pool)
    return out


# ---------------------------------------------------------------------------------------------
# Categories built from list names and constructed edits


def build_missing_names(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    cat = "missing_names"
    pairs: list[Pair] = []
    long = [w for w in src.list_names if len(w) >= 3]
    rng.shuffle(long)
    for words in long[:n]:
        kept = [words[0], words[-1]] if rng.random() < 0.7 else [words[0], *words[-2:]]
        if kept == words:
            kept = [words[0], words[-1]]
        pairs.append(_p(cat, " ".join(words), " ".join(kept), True, "list_drop_middle"))
        other = _negative_person(rng, kept, src)
        pairs.append(_p(cat, " ".join(words), " ".join(other), False, "list_drop_middle_other_person"))
    # Russian patronymics (Faker ru_RU, Latin by ICAO) and US middle names
    fake_ru = _faker("ru_RU", 11)
    fake_us = _faker("en_US", 12)
    for i in range(n // 2):
        if i % 2:
            g, m, s = fake_ru.first_name_male(), fake_ru.middle_name_male(), fake_ru.last_name_male()
            g, m, s = icao(g), icao(m), icao(s)
            how = "ru_patronymic"
        else:
            g, m, s = fake_us.first_name().upper(), fake_us.first_name().upper(), fake_us.last_name().upper()
            how = "us_middle"
        pairs.append(_p(cat, f"{g} {m} {s}", f"{g} {s}", True, how, traveller_given=g, traveller_surname=s))
        g2 = _pick_other(rng, g, src.given_pool) if how == "us_middle" else icao(fake_ru.first_name_male())
        if not _different(g2, g):
            g2 = _pick_other(rng, g, src.given_pool)
        pairs.append(_p(cat, f"{g} {m} {s}", f"{g2} {s}", False, how + "_other_person",
                        traveller_given=g2, traveller_surname=s))
    # Traveller carries one given name the entry lacks
    two = [w for w in src.list_names if len(w) == 2]
    rng.shuffle(two)
    for words in two[: n // 2]:
        extra = rng.choice(src.given_pool)
        trav = [words[0], extra, words[1]]
        pairs.append(_p(cat, " ".join(words), " ".join(trav), True, "traveller_extra_given"))
        other = [_pick_other(rng, words[0], src.given_pool), extra, words[1]]
        pairs.append(_p(cat, " ".join(words), " ".join(other), False, "traveller_extra_given_other_person"))
    # "bin X" chains
    chains = [w for w in src.list_names if any(t in ("BIN", "IBN", "BINT") for t in w[1:-1])]
    for words in chains[: n // 2]:
        k = next(i for i, t in enumerate(words) if t in ("BIN", "IBN", "BINT"))
        trav = [*words[:k], words[-1]] if k > 0 else words
        pairs.append(_p(cat, " ".join(words), " ".join(trav), True, "bin_chain_dropped"))
        other = _negative_person(rng, trav, src)
        pairs.append(_p(cat, " ".join(words), " ".join(other), False, "bin_chain_other_person"))
    return pairs


def build_initials(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    cat = "initials"
    pairs: list[Pair] = []
    # Short tokens and particles make the given/surname split a guess (KIM MUN CHOL, AL ALI): left out.
    names = [w for w in src.list_names if all(len(t) > 3 and t not in PARTICLES for t in w)]
    rng.shuffle(names)
    for words in names[:n]:
        mode = rng.random()
        if mode < 0.4:
            trav = [words[0][0] + ".", words[-1]]
            how = "first_initial"
        elif mode < 0.7 and len(words) >= 3:
            trav = [words[0], *[t[0] for t in words[1:-1]], words[-1]]
            how = "middle_initials"
        else:
            trav = [t[0] for t in words[:-1]] + [words[-1]]
            how = "all_given_initials"
        pairs.append(_p(cat, " ".join(words), " ".join(trav), True, how))
        other_first = _pick_other(rng, words[0], [g for g in src.given_pool if g[0] != words[0][0]])
        neg = list(trav)
        neg[0] = other_first[0] + ("." if trav[0].endswith(".") else "") if len(trav[0]) <= 2 else other_first
        pairs.append(_p(cat, " ".join(words), " ".join(neg), False, how + "_other_initial"))
    return pairs


def _rigour_nicknames() -> list[tuple[str, str]]:
    """(formal name, nickname) pairs from rigour's person-name tagger (OpenSanctions, what logic-v2
    uses), over Faker's given names of several locales."""
    from rigour.names import NameTypeTag, SymbolCategory, analyze_names

    given: set[str] = set()
    for k, locale in enumerate(("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "nl_NL")):
        fake = _faker(locale, 40 + k)
        given.update(_strip_marks(fake.first_name()).lower() for _ in range(1500))
    found: set[tuple[str, str]] = set()
    for name in analyze_names(NameTypeTag.PER, sorted(given), consolidate=False, phonetics=False,
                              numerics=False, rewrite=False):
        for span in name.spans:
            nick = str(span.symbol.id)
            if len(span.parts) == 1 and span.symbol.category == SymbolCategory.NICK and nick.isalpha() \
                    and nick.lower() != name.form and len(name.form) > 2 and name.form.isalpha():
                found.add((name.form.upper(), nick.upper()))
    return sorted(found)


def _package_nicknames() -> list[tuple[str, str]]:
    """(formal name, nickname) pairs from the `nicknames` package (what our matcher uses)."""
    from nicknames import NickNamer

    table = NickNamer().nickname_lookup
    return sorted((formal.upper(), nick.upper()) for formal, nicks in table.items() if len(formal) > 2
                  for nick in nicks if len(nick) > 1 and nick != formal and nick.isalpha())


def build_nicknames(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    """Half the pairs from rigour's table (logic-v2's), half from the `nicknames` package (ours): each
    matcher knows its own table, so the category shows how far each carries to the other's pairs."""
    cat = "nicknames"
    tables = {"rigour_nick": _rigour_nicknames(), "nicknames_pkg": _package_nicknames()}
    related: dict[str, set[str]] = defaultdict(set)
    for table in tables.values():
        for formal, nick in table:
            related[formal].add(nick)
            related[nick].add(formal)
    formal_names = sorted({f for table in tables.values() for f, _ in table})
    fake = _faker("en_US", 21)
    pairs: list[Pair] = []
    for k in range(n):
        how = ("rigour_nick", "nicknames_pkg")[k % 2]
        formal, nick = rng.choice(tables[how])
        surname = fake.last_name().upper()
        pairs.append(_p(cat, f"{formal} {surname}", f"{nick} {surname}", True, how,
                        listed_given=formal, listed_surname=surname, traveller_given=nick,
                        traveller_surname=surname))
        near = related[formal] | related[nick] | {formal, nick}
        other = rng.choice([c for c in formal_names if c not in near and c[:2] == formal[:2]] or formal_names)
        if other in near:
            continue
        pairs.append(_p(cat, f"{formal} {surname}", f"{other} {surname}", False, "other_given",
                        listed_given=formal, listed_surname=surname, traveller_given=other,
                        traveller_surname=surname))
    return pairs


def _split_word(word: str) -> str | None:
    for pre in SPLIT_PREFIXES:
        if word.startswith(pre) and len(word) - len(pre) >= 3:
            return f"{pre} {word[len(pre):]}"
    for suf in SPLIT_SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            return f"{word[: -len(suf)]} {suf}"
    if "-" in word:
        return word.replace("-", " ")
    return None


def build_split_joined(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    cat = "split_joined"
    pairs: list[Pair] = []
    names = list(src.list_names)
    rng.shuffle(names)
    count = 0
    for words in names:
        if count >= n:
            break
        splits = [(i, s) for i, w in enumerate(words) if (s := _split_word(w))]
        if splits and rng.random() < 0.6:
            i, s = rng.choice(splits)
            trav = [*words[:i], s, *words[i + 1:]]
            how = "split"
        elif len(words) >= 3:
            i = rng.randrange(len(words) - 1)
            trav = [*words[:i], words[i] + words[i + 1], *words[i + 2:]]
            how = "joined"
        else:
            continue
        count += 1
        pairs.append(_p(cat, " ".join(words), " ".join(trav), True, how))
        neg = _negative_person(rng, " ".join(trav).split(), src)
        pairs.append(_p(cat, " ".join(words), " ".join(neg), False, how + "_other_person"))
    fake = _faker("fr_FR", 31)
    for _ in range(n // 4):
        first = fake.first_name_male().upper()
        second = fake.first_name_male().upper()
        surname = fake.last_name().upper()
        listed = f"{first}-{second} {surname}"
        pairs.append(_p(cat, listed, f"{first}{second} {surname}", True, "hyphen_joined",
                        traveller_given=f"{first}{second}", traveller_surname=surname))
        other = fake.first_name_male().upper()
        if _different(other, second):
            pairs.append(_p(cat, listed, f"{first}{other} {surname}", False, "hyphen_joined_other_given",
                            traveller_given=f"{first}{other}", traveller_surname=surname))
    return pairs


def build_repeated_tokens(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    cat = "repeated_tokens"
    pairs: list[Pair] = []
    names = list(src.list_names)
    rng.shuffle(names)
    for words in names[:n]:
        i = rng.randrange(len(words))
        if rng.random() < 0.5:
            listed, trav = words, [*words[: i + 1], words[i], *words[i + 1:]]
            how = "traveller_repeats"
        else:
            listed, trav = [*words[: i + 1], words[i], *words[i + 1:]], words
            how = "list_repeats"
        pairs.append(_p(cat, " ".join(listed), " ".join(trav), True, how))
        neg = _negative_person(rng, trav, src)
        pairs.append(_p(cat, " ".join(listed), " ".join(neg), False, how + "_other_person"))
    return pairs


def _ocr(word: str, rng: random.Random, k: int) -> str:
    spots = [i for i, c in enumerate(word) if c in OCR_SWAPS]
    chars = list(word)
    for i in rng.sample(spots, min(k, len(spots))):
        chars[i] = OCR_SWAPS[chars[i]]
    return "".join(chars)


def build_ocr_digits(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    cat = "ocr_digits"
    pairs: list[Pair] = []
    names = list(src.list_names)
    rng.shuffle(names)
    for words in names[:n]:
        k = 1 if rng.random() < 0.6 else 2
        idx = [i for i, w in enumerate(words) if any(c in OCR_SWAPS for c in w)]
        if not idx:
            continue
        trav = list(words)
        for i in rng.sample(idx, min(k, len(idx))):
            trav[i] = _ocr(trav[i], rng, 1)
        pairs.append(_p(cat, " ".join(words), " ".join(trav), True, f"ocr_{k}"))
        neg = _negative_person(rng, words, src)
        neg = [_ocr(w, rng, 1) if j in idx[:k] else w for j, w in enumerate(neg)]
        pairs.append(_p(cat, " ".join(words), " ".join(neg), False, f"ocr_{k}_other_person"))
    return pairs


def build_reversed_letters(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    cat = "reversed_letters"
    pairs: list[Pair] = []
    names = list(src.list_names)
    rng.shuffle(names)
    for words in names[:n]:
        idx = [i for i, w in enumerate(words) if len(w) >= 4]
        if not idx:
            continue
        trav = list(words)
        i = rng.choice(idx)
        w = trav[i]
        candidates = [j for j in range(1, len(w) - 1) if w[j] != w[j + 1]]
        if not candidates:
            continue
        j = rng.choice(candidates)
        trav[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
        pairs.append(_p(cat, " ".join(words), " ".join(trav), True, "transposition"))
        neg = _negative_person(rng, trav, src)
        pairs.append(_p(cat, " ".join(words), " ".join(neg), False, "transposition_other_person"))
    return pairs


def build_particles(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    cat = "particles"
    pairs: list[Pair] = []
    with_particle = [w for w in src.list_names if any(t in PARTICLES for t in w[:-1]) and len(w) >= 3]
    after_particle = sorted({w[k + 1] for w in with_particle for k in range(len(w) - 1)
                             if w[k] in PARTICLES and len(w[k + 1]) > 2})
    rng.shuffle(with_particle)
    for words in with_particle[: n // 2]:
        i = next(k for k, t in enumerate(words[:-1]) if t in PARTICLES)
        if rng.random() < 0.5:
            trav = [*words[:i], *words[i + 1:]]
            how = "particle_removed"
        else:
            trav = [*words[:i], words[i] + words[i + 1], *words[i + 2:]]
            how = "particle_joined"
        pairs.append(_p(cat, " ".join(words), " ".join(trav), True, how))
        neg = list(words)
        j = i + 1
        neg[j] = _pick_other(rng, neg[j], after_particle)
        pairs.append(_p(cat, " ".join(words), " ".join(neg), False, "particle_other_name"))
    # Faker Dutch/German/Portuguese/Spanish surnames with particles; Vietnamese middle name VAN/THI
    for locale, seed in (("nl_NL", 41), ("pt_BR", 42), ("de_DE", 43), ("es_ES", 44), ("fr_FR", 45)):
        fake = _faker(locale, seed)
        made = 0
        tries = 0
        while made < n // 10 and tries < 20000:
            tries += 1
            surname = _strip_marks(fake.last_name()).upper()
            parts = surname.split()
            if len(parts) < 2 or parts[0] not in PARTICLES:
                continue
            given = _strip_marks(fake.first_name()).upper()
            bare = parts[-1]
            forms = [("particle_removed", bare), ("particle_joined", "".join(parts))]
            how, trav_s = forms[made % 2]
            pairs.append(_p(cat, f"{given} {surname}", f"{given} {trav_s}", True, f"{locale}_{how}",
                            listed_given=given, listed_surname=surname, traveller_given=given,
                            traveller_surname=trav_s))
            other = _pick_other(rng, given, src.given_pool)
            pairs.append(_p(cat, f"{given} {surname}", f"{other} {trav_s}", False, f"{locale}_other_given",
                            listed_given=given, listed_surname=surname, traveller_given=other,
                            traveller_surname=trav_s))
            made += 1
    fake = _faker("vi_VN", 46)

    def viet(text: str) -> str:
        return _strip_marks(text.replace("Đ", "D").replace("đ", "d")).upper().split()[-1]

    for i in range(n // 5):
        family = viet(fake.last_name())
        middle = "VAN" if i % 2 else "THI"
        given = viet(fake.first_name_male() if i % 2 else fake.first_name_female())
        listed = f"{family} {middle} {given}"
        short = f"{family} {given}" if i % 3 else f"{given} {middle} {family}"
        pairs.append(_p(cat, listed, short, True, "vietnamese_middle"))
        other = viet(fake.first_name_male() if i % 2 else fake.first_name_female())
        if _different(other, given):
            pairs.append(_p(cat, listed, f"{family} {middle} {other}", False, "vietnamese_other_given"))
    return pairs


# ---------------------------------------------------------------------------------------------
# Categories built from other scripts


def _chinese_names(rng: random.Random, n: int, seed: int) -> list[tuple[str, str]]:
    out = []
    for locale, s in (("zh_CN", seed), ("zh_TW", seed + 1)):
        fake = _faker(locale, s)
        for _ in range(n // 2):
            out.append((fake.last_name(), fake.first_name()))
    rng.shuffle(out)
    return out


def _py(hanzi: str, style: Style) -> list[str]:
    """Syllables as a passport prints them: pypinyin's "v" for ü becomes YU in pinyin (LYU), U in Wade-Giles."""
    umlaut = "U" if style == Style.WADEGILES else "YU"
    return [re.sub(r"[^A-Za-z]", "", s).upper().replace("V", umlaut) for s in lazy_pinyin(hanzi, style=style)]


def _korean_names(n: int, seed: int) -> list[tuple[str, str]]:
    fake = _faker("ko_KR", seed)
    out = []
    for _ in range(n):
        surname = fake.last_name()
        if surname not in KO_SURNAMES:
            continue
        out.append((surname, fake.first_name()))
    return out


def build_romanisation(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    cat = "romanisation"
    pairs: list[Pair] = []
    names = _chinese_names(rng, n, 51)
    givens = [g for _, g in names]
    for surname, given in names[: n // 2]:
        ls, lg = "".join(_py(surname, Style.NORMAL)), "".join(_py(given, Style.NORMAL))
        ts, tg = "".join(_py(surname, Style.WADEGILES)), "-".join(_py(given, Style.WADEGILES))
        if f"{ts} {tg.replace('-', '')}" == f"{ls} {lg}":
            continue  # both systems spell it alike: nothing to test
        pairs.append(_p(cat, f"{ls} {lg}", f"{ts} {tg}", True, "pinyin_vs_wadegiles", listed_given=lg,
                        listed_surname=ls, traveller_given=tg, traveller_surname=ts))
        other = rng.choice(givens)
        og = "-".join(_py(other, Style.WADEGILES))
        if _py(other, Style.NORMAL) != _py(given, Style.NORMAL) and other[0] != given[0]:
            pairs.append(_p(cat, f"{ls} {lg}", f"{ts} {og}", False, "wadegiles_other_given", listed_given=lg,
                            listed_surname=ls, traveller_given=og, traveller_surname=ts))
    kor = _korean_names(n, 52)
    kgivens = [g for _, g in kor]
    for surname, given in kor[: n // 2]:
        usual, rr_s, mr_s, others = KO_SURNAMES[surname]
        lg = "".join(korean_given(given, "RR"))
        if rng.random() < 0.5:
            ts, tg, how = mr_s, "-".join(korean_given(given, "MR")), "rr_vs_mr"
        else:
            ts = rng.choice([rr_s, *others]) if (others or rr_s != usual) else usual
            tg, how = "-".join(korean_given(given, "RR")), "passport_surname"
        pairs.append(_p(cat, f"{usual} {lg}", f"{ts} {tg}", True, how, listed_given=lg, listed_surname=usual,
                        traveller_given=tg, traveller_surname=ts))
        other = rng.choice(kgivens)
        if other != given and other[0] != given[0]:
            og = "-".join(korean_given(other, "MR" if how == "rr_vs_mr" else "RR"))
            pairs.append(_p(cat, f"{usual} {lg}", f"{ts} {og}", False, how + "_other_given", listed_given=lg,
                            listed_surname=usual, traveller_given=og, traveller_surname=ts))
    return pairs


TRANSLIT_LOCALES = ("ru_RU", "uk_UA", "bg_BG", "el_GR", "hy_AM", "ka_GE")


def _native_names(locale: str, seed: int, n: int) -> list[tuple[str, str]]:
    fake = _faker(locale, seed)
    out = []
    for i in range(n):
        if locale in ("ru_RU", "uk_UA", "bg_BG", "el_GR") and i % 2:
            out.append((fake.first_name_female(), fake.last_name_female()))
        elif locale in ("ru_RU", "uk_UA", "bg_BG", "el_GR"):
            out.append((fake.first_name_male(), fake.last_name_male()))
        else:
            out.append((fake.first_name(), fake.last_name()))
    return out


def build_national_translit(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    cat = "national_translit"
    pairs: list[Pair] = []
    per = max(1, n // len(TRANSLIT_LOCALES))
    for k, locale in enumerate(TRANSLIT_LOCALES):
        names = _native_names(locale, 60 + k, per)
        givens = [g for g, _ in names]
        for given, surname in names:
            listed = f"{given} {surname}"
            forms = [("icao", icao(given), icao(surname))]
            forms += [(h, *(national_forms(given, locale)[j][1], national_forms(surname, locale)[j][1]))
                      for j, (h, _) in enumerate(national_forms(given, locale))]
            how, tg, ts = rng.choice(forms)
            pairs.append(_p(cat, listed, f"{tg} {ts}", True, f"{locale}_{how}", listed_given=given,
                            listed_surname=surname, traveller_given=tg, traveller_surname=ts))
            other = rng.choice(givens)
            if _different(icao(other), icao(given)):
                og = icao(other) if how == "icao" else national_forms(other, locale)[
                    [h for h, _ in national_forms(other, locale)].index(how)][1]
                pairs.append(_p(cat, listed, f"{og} {ts}", False, f"{locale}_{how}_other_given", listed_given=given,
                                listed_surname=surname, traveller_given=og, traveller_surname=ts))
    return pairs


def build_other_scripts(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    cat = "other_scripts"
    pairs: list[Pair] = []
    per = max(1, n // 8)
    # Arabic (and a little Cyrillic) from the UN list: original script against the Latin primary
    scripts = list(src.un_scripts)
    rng.shuffle(scripts)
    by_token: dict[str, list[int]] = defaultdict(list)
    for i, (latin, _, _) in enumerate(scripts):
        for t in _upper_words(latin):
            by_token[t].append(i)
    for latin, native, _ in scripts[: per * 2]:
        pairs.append(_p(cat, latin, native, True, "un_original_script"))
        share = [j for t in _upper_words(latin) for j in by_token[t] if scripts[j][0] != latin]
        if share:
            j = rng.choice(share)
            if set(_upper_words(scripts[j][0])) != set(_upper_words(latin)):
                pairs.append(_p(cat, latin, scripts[j][1], False, "un_original_script_shared_token"))

    def combos(given: list[tuple[str, str]], surnames: list[tuple[str, str]], how: str, native_order: str,
               count: int) -> None:
        for _ in range(count):
            (gn, gl), (sn, sl) = rng.choice(given), rng.choice(surnames)
            trav = f"{sn}{gn}" if native_order == "sg_nospace" else (
                f"{sn} {gn}" if native_order == "sg" else f"{gn} {sn}")
            pairs.append(_p(cat, f"{gl} {sl}", trav, True, how, listed_given=gl, listed_surname=sl,
                            traveller_given=gn, traveller_surname=sn))
            on, ol = rng.choice(given)
            if _different(ol, gl):
                trav = f"{sn}{on}" if native_order == "sg_nospace" else (
                    f"{sn} {on}" if native_order == "sg" else f"{on} {sn}")
                pairs.append(_p(cat, f"{gl} {sl}", trav, False, how + "_other_given", listed_given=gl,
                                listed_surname=sl, traveller_given=on, traveller_surname=sn))

    combos(HEBREW_GIVEN, HEBREW_SURNAMES, "hebrew_handlist", "gs", per)
    combos(THAI_GIVEN, THAI_SURNAMES, "thai_handlist", "gs", per)
    # Japanese: Faker ja_JP pairs (kanji, kana, romanised)
    fake = _faker("ja_JP", 71)
    ja_given = sorted({(k, r.upper()) for k, _, r in (fake.first_name_pair() for _ in range(400))})
    ja_sur = sorted({(k, r.upper()) for k, _, r in (fake.last_name_pair() for _ in range(400))})
    combos(ja_given, ja_sur, "japanese_kanji", "sg_nospace", per)
    # Korean: Hangul against the usual passport form
    kor = _korean_names(per * 2, 72)
    kgiv = [(g, "".join(korean_given(g, "RR"))) for _, g in kor]
    ksur = [(s, KO_SURNAMES[s][0]) for s, _ in kor]
    combos(kgiv, ksur, "korean_hangul", "sg_nospace", per)
    # Chinese: hanzi against pinyin
    zh = _chinese_names(rng, per * 2, 73)
    zgiv = [(g, "".join(_py(g, Style.NORMAL))) for _, g in zh]
    zsur = [(s, "".join(_py(s, Style.NORMAL))) for s, _ in zh]
    combos(zgiv, zsur, "chinese_hanzi", "sg_nospace", per)
    # Cyrillic and Greek: native traveller against the ICAO Latin form on the list
    for locale, seed, how in (("ru_RU", 74, "cyrillic_native"), ("el_GR", 75, "greek_native")):
        names = _native_names(locale, seed, per * 2)
        usual = icao if locale == "ru_RU" else (lambda text: national_forms(text, "el_GR")[0][1])
        combos([(g, usual(g)) for g, _ in names], [(s, usual(s)) for _, s in names], how, "gs", per)
    return pairs


# ---------------------------------------------------------------------------------------------
# yente treated UN positives


def read_fixture(name: str) -> list[dict[str, str]]:
    with (FIXTURES / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def build_un_varied(src: Sources, rng: random.Random, n: int) -> list[Pair]:
    cat = "un_varied"
    treated = read_fixture("positives_un_treated.csv")
    untreated = read_fixture("positives_un_untreated.csv")
    idx = list(range(len(treated)))
    rng.shuffle(idx)
    pairs: list[Pair] = []
    by_token: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(untreated):
        for t in _upper_words(row["full_name"]):
            by_token[t].append(i)
    for i in idx[:n]:
        tr, u = treated[i], untreated[i]
        dob = tr["date_of_birth"] or None
        dob_both = dob if dob and u["date_of_birth"] else None
        pairs.append(_p(cat, u["full_name"], tr["full_name"], True, "yente_treated",
                        listed_dob=dob_both and u["date_of_birth"], traveller_dob=dob_both))
        share = [j for w in _upper_words(u["full_name"]) for j in by_token[w]
                 if set(_upper_words(untreated[j]["full_name"])) != set(_upper_words(u["full_name"]))]
        if share:
            j = rng.choice(share)
            pairs.append(_p(cat, untreated[j]["full_name"], tr["full_name"], False, "yente_treated_shared_token"))
    return pairs


CATEGORIES: dict[str, Builder] = {
    "missing_names": build_missing_names,
    "initials": build_initials,
    "nicknames": build_nicknames,
    "split_joined": build_split_joined,
    "repeated_tokens": build_repeated_tokens,
    "ocr_digits": build_ocr_digits,
    "romanisation": build_romanisation,
    "national_translit": build_national_translit,
    "other_scripts": build_other_scripts,
    "reversed_letters": build_reversed_letters,
    "particles": build_particles,
    "un_varied": build_un_varied,
}


def build_pairs(per_category: int = 300, categories: Iterable[str] | None = None, seed: int = 2026,
                sources: Sources | None = None) -> list[Pair]:
    """All categories' pairs, deterministic for a given seed and size; duplicates removed."""
    src = sources or read_sources()
    out: list[Pair] = []
    seen: set[tuple[str, str, str]] = set()
    for k, name in enumerate(categories or CATEGORIES):
        rng = random.Random(seed * 100 + k)
        for pair in CATEGORIES[name](src, rng, per_category):
            key = (pair.category, pair.listed, pair.traveller)
            if key in seen or not pair.traveller.strip() or (pair.listed == pair.traveller and not pair.same):
                continue
            seen.add(key)
            out.append(pair)
    return out


def without_structure(pair: Pair) -> Pair:
    """The same pair presented as full names only (for checking what structure adds)."""
    return replace(pair, listed_given=None, listed_surname=None, traveller_given=None, traveller_surname=None)
