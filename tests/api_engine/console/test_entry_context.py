"""The hit page says why the entry is listed: its programme, the list's reason and the listing date, or that the
list does not give them.

Strategy: the processor screens one flight against a national list with the optional columns (one entry with all
three, its reason holding markup; one with a programme only) and against the real UN consolidated list (a
traveller named as UN entry CDi.001); the console, on the same store and lists, renders the hit pages, read as
HTML the way an officer reads them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_engine.console import create_app
from api_engine.console.users import add_user
from api_engine.settings import Settings
from api_engine.store import Store

from .conftest import PASSWORD, PLANTED, ROLES, SECOND, ConsoleEnv, bystander, paxlst
from .test_security import sign_in

UN_LIST = Path(__file__).resolve().parents[3] / "../shared/data/watchlists/un_sc_consolidated_2026-02-27.xml"
REASON = 'Wanted for questioning <script>alert("x")</script> & held in absentia.'
CSV_REASON = '"' + REASON.replace('"', '""') + '"'
NATIONAL_CSV = (
    "id,list,category,surname,given_names,date_of_birth,nationality,gender,document_number,document_type,"
    "document_country,programme,reason,listed_on\n"
    f"NAT-001,NATIONAL,individual,{PLANTED['surname']},{PLANTED['given']},{PLANTED['dob']},{PLANTED['nat2']},"
    f"{PLANTED['sex']},{PLANTED['doc']},P,{PLANTED['nat2']},TRAVEL-BAN|ASSET-FREEZE,{CSV_REASON},"
    "2021-03-04\n"
    f"NAT-002,NATIONAL,individual,{SECOND['surname']},{SECOND['given']},{SECOND['dob']},{SECOND['nat2']},"
    f"{SECOND['sex']},{SECOND['doc']},P,{SECOND['nat2']},TRAVEL-BAN,,\n"
)
# UN CDi.001: ERIC BADEGE, born 1971, Democratic Republic of the Congo
BADEGE = {"surname": "BADEGE", "given": "ERIC", "dob6": "710101", "nat": "COD", "doc": "OB1234567", "sex": "M"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    assert UN_LIST.exists(), f"real list data missing at {UN_LIST} (../shared beside the checkout)"
    national = tmp_path / "NATIONAL.csv"
    national.write_text(NATIONAL_CSV, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
                        watchlists=[str(national), str(UN_LIST)], profile="baseline")
    env = ConsoleEnv(settings=settings, tmp=tmp_path)
    env.process(paxlst("XX100", [bystander(1), PLANTED, SECOND, BADEGE]))

    async def accounts(store: Store) -> None:
        for role in ROLES:
            await add_user(store, role, role, PASSWORD)

    env.run(accounts)
    with TestClient(create_app(settings)) as c:
        sign_in(c, "officer")
        yield c


def hit_of(client: TestClient, list_name: str, entry_id: str) -> int:
    alerts: list[dict[str, Any]] = client.get("/api/alerts").json()["alerts"]
    found = [a["hit_id"] for a in alerts if (a["list"], a["entry_id"]) == (list_name, entry_id)]
    assert len(found) == 1, [(a["list"], a["entry_id"]) for a in alerts]
    return int(found[0])


def shown(page: str, element_id: str) -> str:
    """What a reader sees of one element: tags dropped, entities decoded, spaces collapsed."""
    found = re.search(rf'<(\w+) id="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found is not None, f"no #{element_id} on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(2))).split())


def test_the_hit_page_shows_programme_reason_and_listing_date_and_the_reason_as_text(client: TestClient) -> None:
    page = client.get(f"/hits/{hit_of(client, 'NATIONAL', 'NAT-001')}").text
    assert shown(page, "entry-programmes") == "TRAVEL-BAN; ASSET-FREEZE"
    assert shown(page, "entry-listed-on") == "2021-03-04"
    assert shown(page, "entry-reason") == REASON
    assert "<script>" not in page and "&lt;script&gt;alert(" in page  # shown as text, never run
    assert 'id="entry-no-reason"' not in page


def test_what_the_list_does_not_give_is_said_to_be_not_given(client: TestClient) -> None:
    hit = hit_of(client, "NATIONAL", "NAT-002")
    page = client.get(f"/hits/{hit}").text
    assert shown(page, "entry-programmes") == "TRAVEL-BAN"
    assert shown(page, "entry-listed-on") == "not given by the list"
    assert shown(page, "entry-reason") == "not given by the list"
    entry = client.get(f"/api/hits/{hit}").json()["entry"]
    assert (entry["programmes"], entry["reason"], entry["listed_on"]) == (["TRAVEL-BAN"], None, None)


def test_a_hit_on_the_un_list_shows_the_regime_the_listing_date_and_the_committees_comments(
        client: TestClient) -> None:
    page = client.get(f"/hits/{hit_of(client, 'UN', 'CDi.001')}").text
    assert shown(page, "entry-programmes") == "Democratic Republic of the Congo (DRC)"
    assert shown(page, "entry-listed-on") == "2012-12-31"
    assert shown(page, "entry-reason").startswith("He fled to Rwanda in March 2013 and is still living there")
