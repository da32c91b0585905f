"""Demo data: Zhangjiakou's divisions and the 2016 reorganisation of its development zones.

What is from the source (张发〔2016〕12号, 二(四)(五), 二十八) and what is not:

- The zones, their kinds, administering and entrusted divisions, and every operation of the
  2016 act are as worked out in docs/domain.md#the-2016-reorganisation from the policy text.
- The six unchanged zones' names are not in the source: they carry clearly marked
  placeholder names (示例占位名称).
- Division dates are not in the source: divisions start on 2000-01-01 and the early-2016
  changes (宣化县 into 宣化区, 万全县 and 崇礼县 becoming districts) are dated 2016-01-01; both
  are approximate and every such record says so. 东山高新 was entrusted to 宣化县; the baseline
  is dated after that county's merger, so it records the entrustment against 宣化区.
- The pre-reorganisation state is registered by one baseline act dated 2016-01-01, which is a
  demo registration, not a legal act; its legal basis says so.
- 察北管理区 and 塞北管理区 are county-level management areas without GB/T 2260 codes; they use
  the statistical division codes 130771 and 130772. That they are two of the "seven divisions
  without a zone" (二十八) is our inference (16 divisions minus 11 with a zone leave five).
"""

from __future__ import annotations

from typing import Any

import httpx

APPROX = "演示数据：日期为近似值，来源未载明 (demo data: approximate date, not in the source)"
LEGAL_BASIS_2016 = "冀政字〔2016〕33号"
BASELINE_BASIS = "演示登记：2016年优化整合前状况（非正式文件） (demo registration, not a legal act)"
PLACEHOLDER = "（示例占位名称）"

CITY = "130700"
DIVISIONS_2000: list[tuple[str, str, bool]] = [
    ("130700", "张家口市", True),
    ("130702", "桥东区", False),
    ("130703", "桥西区", False),
    ("130705", "宣化区", False),
    ("130706", "下花园区", False),
    ("130721", "宣化县", False),
    ("130722", "张北县", False),
    ("130723", "康保县", False),
    ("130724", "沽源县", False),
    ("130725", "尚义县", False),
    ("130726", "蔚县", False),
    ("130727", "阳原县", False),
    ("130728", "怀安县", False),
    ("130729", "万全县", False),
    ("130730", "怀来县", False),
    ("130731", "涿鹿县", False),
    ("130732", "赤城县", False),
    ("130733", "崇礼县", False),
    ("130771", "察北管理区", False),
    ("130772", "塞北管理区", False),
]
DIVISIONS_2016: list[tuple[str, str, list[str]]] = [
    ("130705", "宣化区", ["130721"]),
    ("130708", "万全区", ["130729"]),
    ("130709", "崇礼区", ["130733"]),
]
MANAGEMENT_AREA_NOTE = (
    "统计用区划代码，非 GB/T 2260；列为“没有省级开发区的7个县(区)”之一系推断 "
    "(statistical code, not GB/T 2260; counted among the seven divisions without a zone by inference)"
)


def division_payloads() -> list[dict[str, Any]]:
    """The divisions to record, in order."""
    out: list[dict[str, Any]] = []
    for code, name, is_city in DIVISIONS_2000:
        note = APPROX if code not in ("130771", "130772") else f"{APPROX}; {MANAGEMENT_AREA_NOTE}"
        out.append({"code": code, "name": name, "valid_from": "2000-01-01", "is_city": is_city, "note": note})
    for code, name, replaces in DIVISIONS_2016:
        out.append({"code": code, "name": name, "valid_from": "2016-01-01", "replaces": replaces, "note": APPROX})
    return out


def _zone(ref: str, name: str, kind: str, authority: str, **extra: Any) -> dict[str, Any]:
    return {
        "op": "establish",
        "ref": ref,
        "name": name,
        "kind": kind,
        "level": "provincial",
        "authority": authority,
        **extra,
    }


def baseline_act() -> dict[str, Any]:
    """The 18 provincial zones as they stood before 14 October 2016 (14 economic + 4 high-tech)."""
    ops = [
        _zone("zjk_econ", "河北张家口经济开发区", "economic", CITY),
        _zone("xishan_ht", "张家口西山高新技术产业开发区", "high_tech", CITY, entrusted_to="130708"),
        _zone("xishan_econ", "河北张家口西山经济开发区", "economic", CITY, entrusted_to="130708"),
        _zone("nanshan", "河北张家口南山经济开发区", "economic", CITY, entrusted_to="130728"),
        _zone("dongshan", "张家口东山高新技术产业开发区", "high_tech", CITY, entrusted_to="130705"),
        _zone("huaian_park", "河北怀安工业园", "economic", "130728"),
        _zone("xuanhua", "河北宣化经济开发区", "economic", "130705"),
        _zone("shacheng", "河北沙城经济开发区", "economic", "130730"),
        _zone("huailai_ht", "怀来高新技术开发区", "high_tech", "130730", plaques=["怀来新兴产业示范区"]),
        _zone("zhuolu_park", "河北涿鹿工业园", "economic", "130731"),
        _zone("zhuolu_ht", "涿鹿高新技术产业开发区", "high_tech", "130731"),
        _zone("chicheng", "河北赤城经济开发区", "economic", "130732", plaques=["赤城新兴产业示范区"]),
        _zone("zhangbei", f"张北县省级开发区{PLACEHOLDER}", "economic", "130722"),
        _zone("wanquan", f"万全区省级开发区{PLACEHOLDER}", "economic", "130708"),
        _zone("yuxian", f"蔚县省级开发区{PLACEHOLDER}", "economic", "130726"),
        _zone("guyuan", f"沽源县省级开发区{PLACEHOLDER}", "economic", "130724"),
        _zone("qiaodong", f"桥东区省级开发区{PLACEHOLDER}", "economic", "130702"),
        _zone("xiahuayuan", f"下花园区省级开发区{PLACEHOLDER}", "economic", "130706"),
    ]
    return {
        "legal_basis": BASELINE_BASIS,
        "effective_on": "2016-01-01",
        "title": "演示：张家口市省级开发区2016年优化整合前状况 (demo baseline)",
        "note": f"{APPROX}. The six placeholder names are not in the source.",
        "operations": ops,
    }


def reorganisation_2016(ids: dict[str, str]) -> dict[str, Any]:
    """The 2016 act (张发〔2016〕12号 二(四)(五), approved by 冀政字〔2016〕33号), given the baseline ids."""
    z = ids
    ops: list[dict[str, Any]] = [
        # (四) 西山高新 renamed 河北张家口高新技术产业开发区, plaque 河北张家口西山经济开发区, entrusted to 万全区.
        {
            "op": "merge",
            "sources": [z["xishan_econ"]],
            "into": z["xishan_ht"],
            "sources_become": "absorbed",
            "keep_names_as_plaques": ["河北张家口西山经济开发区"],
        },
        {"op": "rename", "zone_id": z["xishan_ht"], "name": "河北张家口高新技术产业开发区"},
        # (五) 南山 transferred to 怀安县 and merged with 怀安工业园: one zone, two parks, both plaques revoked.
        {
            "op": "establish",
            "ref": "huaian",
            "name": "河北怀安经济开发区",
            "kind": "economic",
            "level": "provincial",
            "authority": "130728",
        },
        {"op": "transfer", "zone_id": z["nanshan"], "authority": "130728"},
        {"op": "merge", "sources": [z["nanshan"], z["huaian_park"]], "into": "huaian", "sources_become": "parks"},
        # 东山高新 transferred to 宣化区 and merged into 河北宣化经济开发区: two parks, plaque kept.
        {"op": "transfer", "zone_id": z["dongshan"], "authority": "130705"},
        {"op": "merge", "sources": [z["dongshan"]], "into": z["xuanhua"], "sources_become": "parks"},
        {"op": "add_plaque", "zone_id": z["xuanhua"], "name": "河北张家口东山高新技术产业开发区"},
        # 沙城 + 怀来高新: two parks, plaque 河北怀来高新技术产业开发区, plaque 怀来新兴产业示范区 revoked.
        {"op": "merge", "sources": [z["huailai_ht"]], "into": z["shacheng"], "sources_become": "parks"},
        {"op": "add_plaque", "zone_id": z["shacheng"], "name": "河北怀来高新技术产业开发区"},
        # 涿鹿工业园 (= 涿鹿高新) renamed 河北涿鹿经济开发区, plaque 河北涿鹿高新技术产业开发区.
        {"op": "merge", "sources": [z["zhuolu_ht"]], "into": z["zhuolu_park"], "sources_become": "absorbed"},
        {"op": "rename", "zone_id": z["zhuolu_park"], "name": "河北涿鹿经济开发区"},
        {"op": "add_plaque", "zone_id": z["zhuolu_park"], "name": "河北涿鹿高新技术产业开发区"},
        # 赤城: the 赤城新兴产业示范园 joins as a second park; plaque 赤城新兴产业示范区 revoked.
        {"op": "add_park", "zone_id": z["chicheng"], "name": "赤城新兴产业示范园"},
        {"op": "revoke_plaque", "zone_id": z["chicheng"], "name": "赤城新兴产业示范区"},
    ]
    return {
        "legal_basis": LEGAL_BASIS_2016,
        "effective_on": "2016-10-14",
        "title": "张家口市开发区优化整合（张发〔2016〕12号 二(四)(五)）",
        "note": "As worked out from the policy text; the six unchanged zones are not touched.",
        "operations": ops,
    }


async def load(http: httpx.AsyncClient, urls: dict[str, str]) -> None:
    """Load the demo once: skip if the 2016 act is already recorded."""
    base = urls["registry"]
    acts = (await http.get(f"{base}/v1/reorganisations", params={"limit": 500})).json()["items"]
    if any(a["legal_basis"] == LEGAL_BASIS_2016 and a["annulled_at"] is None for a in acts):
        return
    for division in division_payloads():
        r = await http.post(f"{base}/v1/divisions", json=division)
        if r.status_code not in (200, 201, 422):  # 200: recorded identically by an earlier, interrupted load
            r.raise_for_status()
    baseline = next((a for a in acts if a["legal_basis"] == BASELINE_BASIS and a["annulled_at"] is None), None)
    if baseline is None:
        r = await http.post(
            f"{base}/v1/reorganisations", json=baseline_act(), headers={"Idempotency-Key": "demo-baseline-2016"}
        )
        r.raise_for_status()
        ids = r.json()["zone_ids_by_ref"]
    else:
        ids = (await http.get(f"{base}/v1/reorganisations/{baseline['id']}")).json()["zone_ids_by_ref"]
    r = await http.post(
        f"{base}/v1/reorganisations", json=reorganisation_2016(ids), headers={"Idempotency-Key": "demo-2016"}
    )
    r.raise_for_status()
