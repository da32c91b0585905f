"""Intake at the window: accept, one notice of everything missing, decline, 容缺受理, files."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from libs.domain.permits.contracts import MAX_UPLOAD_BYTES
from tests.helpers import assert_problem
from tests.permits.builders import CITY, CLERK, ENTERPRISE, OTHER_CLERK, PLANNING


class TestAcceptance:
    async def test_a_case_missing_a_mandatory_material_cannot_be_accepted(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item, codes=("m1",))
            r = await w.client.post(f"/v1/applications/{case['id']}/accept", headers=CLERK, json={})
            body = assert_problem(r, 422)
            assert "m2" in body["errors"][-1]["msg"] and "m3" in body["errors"][-1]["msg"]

    async def test_a_minor_material_may_be_pending_on_a_commitment(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item, codes=("m1", "m2"))
            pending = [{"code": "m3", "commitment": "5个工作日内补交授权委托书"}]
            accepted = await w.accept(case, pending=pending)
            assert accepted["state"] == "in_review"
            assert accepted["pending_materials"][0]["code"] == "m3"

    async def test_no_pending_materials_where_the_item_does_not_allow_it(self, window: Any) -> None:
        async with window() as w:
            item = await w.item(accept_pending_minor=False)
            case = await w.apply(item, codes=("m1", "m2"))
            r = await w.client.post(
                f"/v1/applications/{case['id']}/accept",
                headers=CLERK,
                json={"pending": [{"code": "m3", "commitment": "later"}]},
            )
            assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "pending"]

    async def test_a_mandatory_material_that_is_not_minor_cannot_be_pending(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item, codes=("m1", "m3"))
            r = await w.client.post(
                f"/v1/applications/{case['id']}/accept",
                headers=CLERK,
                json={"pending": [{"code": "m2", "commitment": "later"}]},
            )
            assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "pending", 0, "code"]

    async def test_another_zones_clerk_cannot_see_the_case(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item)
            assert_problem(
                await w.client.post(f"/v1/applications/{case['id']}/accept", headers=OTHER_CLERK, json={}), 404
            )


class TestOneNoticeOfEverythingMissing:
    async def test_the_notice_must_list_every_missing_material(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item, codes=("m1",))
            url = f"/v1/applications/{case['id']}/request-supplements"
            partial = await w.client.post(url, headers=CLERK, json={"items": [{"code": "m2", "problem": "missing"}]})
            assert "m3" in assert_problem(partial, 422)["errors"][0]["msg"]
            full = await w.ok(
                "POST",
                url,
                CLERK,
                json={
                    "items": [
                        {"code": "m2", "problem": "missing"},
                        {"code": "m3", "problem": "missing"},
                        {"code": "m1", "problem": "defective", "detail": "缺少签章"},
                    ],
                    "note": "请一次性补正",
                },
            )
            assert full["state"] == "supplements_requested" and full["clock"] == "not_started"
            msgs = (await w.ok("GET", f"/v1/applications/{case['id']}/messages", ENTERPRISE))["items"]
            assert msgs[-1]["kind"] == "supplements_requested" and len(msgs[-1]["items"]) == 3

    async def test_the_applicant_answers_and_the_case_returns_to_the_window(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item, codes=("m1",))
            await w.ok(
                "POST",
                f"/v1/applications/{case['id']}/request-supplements",
                CLERK,
                json={"items": [{"code": "m2", "problem": "missing"}, {"code": "m3", "problem": "missing"}]},
            )
            files = [await w.upload(content=f"supplement {c}".encode(), name=f"{c}.pdf") for c in ("m2", "m3")]
            back = await w.ok(
                "POST",
                f"/v1/applications/{case['id']}/supplements",
                ENTERPRISE,
                json={
                    "materials": [{"code": "m2", "file_id": files[0]["id"]}, {"code": "m3", "file_id": files[1]["id"]}]
                },
            )
            assert back["state"] == "submitted"
            assert [m["round"] for m in back["materials"]] == [0, 1, 1]
            assert (await w.accept(case))["state"] == "in_review"

    async def test_an_unknown_material_code_in_a_notice_is_422(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item)
            r = await w.client.post(
                f"/v1/applications/{case['id']}/request-supplements",
                headers=CLERK,
                json={"items": [{"code": "zz", "problem": "missing"}]},
            )
            assert_problem(r, 422)


class TestDecline:
    async def test_declined_with_reasons_the_applicant_reads(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item)
            out = await w.ok(
                "POST",
                f"/v1/applications/{case['id']}/decline",
                CLERK,
                json={"reasons": ["申请事项不属于本局职权范围"]},
            )
            assert out["state"] == "declined" and out["allowed_actions"] == []
            msgs = (await w.ok("GET", f"/v1/applications/{case['id']}/messages", ENTERPRISE))["items"]
            assert msgs[-1]["items"] == [{"reason": "申请事项不属于本局职权范围"}]


class TestFilingRules:
    async def test_a_retry_with_the_same_idempotency_key_makes_one_case(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            f = await w.upload()
            body = {
                "item": item["id"],
                "zone_id": item["zone_id"],
                "project_name": "p",
                "applicant": {"name": "企业"},
                "materials": [{"code": "m1", "file_id": f["id"]}],
            }
            headers = {**ENTERPRISE, "Idempotency-Key": "k-1"}
            a = await w.ok("POST", "/v1/applications", headers, 201, json=body)
            r = await w.client.post("/v1/applications", headers=headers, json=body)
            assert (r.status_code, r.headers["idempotent-replayed"]) == (201, "true")
            assert r.json() == a
            page = await w.ok("GET", "/v1/applications", ENTERPRISE)
            assert len(page["items"]) == 1

    async def test_an_applicant_files_only_for_themselves(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            r = await w.client.post(
                "/v1/applications",
                headers=ENTERPRISE,
                json={
                    "item": item["id"],
                    "zone_id": item["zone_id"],
                    "project_name": "p",
                    "applicant": {"id": "someone-else", "name": "企业"},
                },
            )
            assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "applicant", "id"]

    async def test_the_item_must_belong_to_the_zone_named(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            r = await w.client.post(
                "/v1/applications",
                headers=ENTERPRISE,
                json={"item": item["id"], "zone": "xh-econ", "project_name": "p", "applicant": {"name": "企业"}},
            )
            assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "zone_id"]

    async def test_a_hash_that_does_not_match_the_stored_file_is_422(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            f = await w.upload()
            r = await w.client.post(
                "/v1/applications",
                headers=ENTERPRISE,
                json={
                    "item": item["id"],
                    "zone_id": item["zone_id"],
                    "project_name": "p",
                    "applicant": {"name": "企业"},
                    "materials": [{"code": "m1", "file_id": f["id"], "sha256": "0" * 64}],
                },
            )
            assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "materials", 0, "sha256"]

    async def test_another_enterprises_file_cannot_be_used(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            theirs = await w.upload(headers=CITY)
            r = await w.client.post(
                "/v1/applications",
                headers=ENTERPRISE,
                json={
                    "item": item["id"],
                    "zone_id": item["zone_id"],
                    "project_name": "p",
                    "applicant": {"name": "企业"},
                    "materials": [{"code": "m1", "file_id": theirs["id"]}],
                },
            )
            assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "materials", 0, "file_id"]


class TestLandUseFindings:
    async def test_a_failed_check_is_a_finding_for_reviewers_not_for_the_applicant(self, window: Any) -> None:
        async with window() as w:
            item = await w.item(land_use_check=True)
            land = {"plot_ratio": "0.8", "building_coverage_percent": "45", "admin_living_share_percent": "9"}
            case = await w.apply(item, land_use=land)
            assert case["findings"] == []  # the applicant's own view
            await w.accept(case)
            seen = await w.case(case["id"], PLANNING)
            assert [f["field"] for f in seen["findings"]] == ["plot_ratio", "admin_living_share_percent"]

    async def test_an_industrial_item_needs_the_figures(self, window: Any) -> None:
        async with window() as w:
            item = await w.item(land_use_check=True)
            r = await w.client.post(
                "/v1/applications",
                headers=ENTERPRISE,
                json={
                    "item": item["id"],
                    "zone_id": item["zone_id"],
                    "project_name": "p",
                    "applicant": {"name": "企业"},
                },
            )
            assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "land_use"]


class TestFiles:
    async def test_upload_stores_the_hash_and_answers_the_same_file_twice(self, window: Any) -> None:
        async with window() as w:
            content = "营业执照（示例）".encode()
            a = await w.upload(content=content, name="license.pdf")
            b = await w.upload(content=content, name="license.pdf")
            assert a["sha256"] == hashlib.sha256(content).hexdigest() and a["size_bytes"] == len(content)
            assert a["id"] == b["id"]
            got = await w.client.get(f"/v1/files/{a['id']}/content", headers=ENTERPRISE)
            assert got.content == content
            assert_problem(await w.client.get(f"/v1/files/{a['id']}", headers=CLERK), 404)

    async def test_the_content_is_octet_stream_whatever_was_declared_and_the_metadata_keeps_the_type(
        self, window: Any
    ) -> None:
        async with window() as w:
            r = await w.client.post(
                "/v1/files", headers=ENTERPRISE, files={"file": ("note.html", b"<b>hi</b>", "text/html")}
            )
            assert r.status_code == 201, r.text
            got = await w.client.get(f"/v1/files/{r.json()['id']}/content", headers=ENTERPRISE)
            # the one media type the OpenAPI documents; never rendered as a page of ours
            assert got.headers["content-type"] == "application/octet-stream"
            assert got.headers["x-content-type-options"] == "nosniff" and got.content == b"<b>hi</b>"
            meta = await w.client.get(f"/v1/files/{r.json()['id']}", headers=ENTERPRISE)
            assert meta.json()["content_type"] == "text/html"

    async def test_a_form_that_cannot_be_parsed_is_the_documented_400(self, window: Any) -> None:
        async with window() as w:
            broken = {**ENTERPRISE, "content-type": "multipart/form-data; boundary=xyz"}
            r = await w.client.post("/v1/files", headers=broken, content=b"--xyz\r\nno headers, no end")
            assert "errors" not in assert_problem(r, 400)  # nothing in it can be located

    async def test_a_file_over_the_limit_is_413_and_the_limit_is_in_the_openapi(self, window: Any) -> None:
        async with window() as w:
            r = await w.client.post(
                "/v1/files",
                headers=ENTERPRISE,
                files={"file": ("big.bin", b"x" * (MAX_UPLOAD_BYTES + 1), "application/pdf")},
            )
            assert assert_problem(r, 413)["limit_bytes"] == MAX_UPLOAD_BYTES
            spec = (await w.client.get("/openapi.json")).json()
            assert spec["paths"]["/v1/files"]["post"]["x-max-upload-bytes"] == MAX_UPLOAD_BYTES

    async def test_an_empty_file_is_422(self, window: Any) -> None:
        async with window() as w:
            r = await w.client.post("/v1/files", headers=ENTERPRISE, files={"file": ("e.pdf", b"", "application/pdf")})
            assert_problem(r, 422)

    async def test_the_zone_staff_read_the_files_of_their_cases(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item)
            file_id = case["materials"][0]["file_id"]
            assert (await w.client.get(f"/v1/files/{file_id}", headers=CLERK)).status_code == 200
            assert_problem(await w.client.get(f"/v1/files/{file_id}", headers=OTHER_CLERK), 404)


class TestConcurrentRetries:
    async def test_two_simultaneous_retries_with_one_idempotency_key_make_one_case(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            body = {"item": item["id"], "zone_id": item["zone_id"], "project_name": "p", "applicant": {"name": "企业"}}
            headers = {**ENTERPRISE, "Idempotency-Key": "same-key"}
            answers = await asyncio.gather(
                w.client.post("/v1/applications", headers=headers, json=body),
                w.client.post("/v1/applications", headers=headers, json=body),
            )
            # One runs; the other finds it running (409) or, if it came after, answers its answer.
            made = [r.json()["id"] for r in answers if r.status_code == 201]
            assert sorted(r.status_code for r in answers) in ([201, 201], [201, 409]), [r.text for r in answers]
            assert len(set(made)) == 1
            assert len((await w.ok("GET", "/v1/applications", ENTERPRISE))["items"]) == 1
