"""The phone SDK driven through its generated Python bindings, as an app would, against a real
server. Each test uses its own people and its own store files."""

import asyncio
import re
import tempfile
import uuid
from pathlib import Path

import fieldloop_ffi as sdk


def run(coro):
    return asyncio.run(coro)


def field(path, text=None, number=None, yuan=None):
    return sdk.FieldInput(path=path, text=text, number=number, yuan=yuan)


class Recorder(sdk.SyncProgress):
    def __init__(self):
        self.calls = []

    def on_progress(self, docs_done, docs_total, bytes_done, bytes_total):
        self.calls.append((docs_done, docs_total, bytes_done, bytes_total))


PNG = b"\x89PNG\r\n\x1a\n customer signature strokes"


class Office:
    """Head office and the Wuhan office, with their own people for one test."""

    def __init__(self, server):
        self.server = server
        tag = uuid.uuid4().hex[:6]
        self.clerk = f"clerk_{tag}"
        self.director = f"director_{tag}"
        self.techs = [f"tech_{tag}_{i}" for i in range(2)]
        server.user(self.clerk, "clerk", "wuhan")
        server.user(self.director, "factory_director")
        self.tech_ids = [server.user(t, "technician", "wuhan")["id"] for t in self.techs]

    def job(self):
        s = self.server
        status, customer = s.call(self.clerk, "POST", "/api/customers", {"name": "武汉某厂", "address": "武汉", "phone": "027-1"})
        assert status == 201, customer
        status, product = s.call(
            self.clerk,
            "POST",
            "/api/products",
            {"customer_id": customer["id"], "name": "搅拌机", "model": "BC-350", "purchase_date": "2026-06-01", "warranty_months": 12},
        )
        assert status == 201, product
        status, visit = s.call(self.clerk, "POST", "/api/visits", {"product_id": product["id"], "category": "A", "channel": "phone"})
        assert status == 201, visit
        return visit["id"]

    def dispatch(self, visit, tech_index=0, reassign=False):
        body = {"technician_id": self.tech_ids[tech_index], "reassign": reassign}
        status, body = self.server.call(self.director, "POST", f"/api/visits/{visit}/dispatch", body)
        assert status == 200, body


async def phone(server, username, path):
    client = await sdk.open_client(str(path), server.base)
    await client.login(username, f"{username}-password-for-tests")
    await client.register_device(f"{username}'s phone")
    return client


def test_a_technicians_day_offline_with_restarts(server):
    office = Office(server)
    visit = office.job()
    office.dispatch(visit)
    store = Path(tempfile.mkdtemp()) / "phone.sqlite"

    async def morning():
        client = await phone(server, office.techs[0], store)
        progress = Recorder()
        summary = await client.sync_now(progress)
        assert summary.pulled == 1
        assert progress.calls and progress.calls[-1][0] == progress.calls[-1][1]
        jobs = await client.list_jobs()
        assert [j.id for j in jobs] == [visit]
        # The new job is an alert the app shows once, then acknowledges.
        alerts = await client.alerts()
        assert [(a.kind, a.record_id) for a in alerts] == [("dispatch", visit)], alerts
        assert "新派工" in alerts[0].text
        await client.acknowledge_alert(alerts[0].key)
        assert await client.alerts() == []
        try:
            await client.acknowledge_alert("no-such-alert")
            raise AssertionError("an unknown alert must be refused")
        except sdk.FieldloopError.InvalidInput:
            pass
        await client.shutdown()

    async def on_site():
        # The app was killed after the morning sync; it opens the store again, no signal.
        client = await sdk.open_client(str(store), "http://127.0.0.1:9")
        await client.record_fields(
            visit,
            [
                field("form.arrived_at", text="2026-11-27T10:00:00+08:00"),
                field("form.diagnosis", text="gearbox bearing worn"),
                field("form.work_done", text="replaced the bearing"),
                field("form.travel_fen", yuan="120.50"),
                field("fee.amount_fen", yuan="200"),
                field("fee.method", text="cash_on_site"),
            ],
        )
        await client.shutdown()
        client = await sdk.open_client(str(store), "http://127.0.0.1:9")
        record = await client.capture_signature(visit, PNG, "image/png", "王经理", [field("form.outcome", text="taken_back")])
        assert not record.changed_after_signing
        receipt = await client.issue_receipt(
            visit,
            [field("receipt.product_serial", text="SN-001"), field("receipt.promised_date", text="2026-12-05")],
            PNG,
            "image/png",
            "王经理",
        )
        number = {f.path: f.value for f in receipt.fields}["receipt.number"]
        # Short enough to read out: the phone's number, then the receipt's (R001-00001).
        assert re.fullmatch(r"R\d{3,}-\d{5}", number), number
        # Still offline: syncing says so, and retrying can help.
        try:
            await client.sync_now(Recorder())
            raise AssertionError("sync without a server must fail")
        except sdk.FieldloopError.Offline as e:
            assert sdk.is_retryable(e)
            assert sdk.error_code(e) == sdk.ErrorCode.UNKNOWN
        await client.shutdown()
        return receipt.id

    async def evening(receipt_id):
        client = await sdk.open_client(str(store), server.base)
        progress = Recorder()
        summary = await client.sync_now(progress)
        assert summary.pushed == 2, summary
        assert summary.blobs_uploaded == 1
        assert summary.refused == []
        done = progress.calls[-1]
        assert done[0] == done[1] == 2 and done[2] == done[3] > 0
        await client.shutdown()

    run(morning())
    receipt_id = run(on_site())
    run(evening(receipt_id))
    status, doc = server.call(office.clerk, "GET", f"/api/docs/{visit}")
    assert status == 200
    values = {f["path"]: f["value"] for f in doc["fields"]}
    assert values["form.travel_fen"] == 12050
    assert values["signature.signer_name"] == "王经理"
    status, register = server.call(office.clerk, "GET", "/api/register/products")
    assert any(r["receipt_id"] == receipt_id and r["location"] == "with_technician" for r in register)

    # Repaired and put in stock by the office: after the next sync, the phone shows it as a
    # product ready to return, until acknowledged.
    tag = uuid.uuid4().hex[:6]
    production, qc = f"production_{tag}", f"qc_{tag}"
    server.user(production, "production")
    server.user(qc, "qc_inspector")
    for who, event in [(office.techs[0], "to_production"), (production, "repair_done"), (qc, "qc_accept")]:
        status, body = server.call(who, "POST", f"/api/receipts/{receipt_id}/custody", {"event": event})
        assert status == 200, (event, body)

    async def next_morning():
        client = await sdk.open_client(str(store), server.base)
        await client.sync_now(Recorder())
        alerts = await client.alerts()
        assert [(a.kind, a.record_id) for a in alerts] == [("handback", receipt_id)], alerts
        assert "可交还客户" in alerts[0].text
        await client.acknowledge_alert(alerts[0].key)
        assert await client.alerts() == []
        await client.shutdown()

    run(next_morning())


def test_two_phones_on_one_job_converge(server):
    office = Office(server)
    dir_ = Path(tempfile.mkdtemp())

    async def go():
        a = await phone(server, office.techs[0], dir_ / "a.sqlite")
        b = await phone(server, office.techs[1], dir_ / "b.sqlite")
        record = await a.create_visit([field("form.parts_used", text="none yet")])
        await a.sync_now(Recorder())
        office.dispatch(record.id, tech_index=1)
        await a.sync_now(Recorder())
        assert (await b.sync_now(Recorder())).pulled == 1
        await a.record_fields(record.id, [field("form.arrived_at", text="2026-11-27T09:00:00+08:00"), field("form.parts_used", text="belt")])
        await b.record_fields(record.id, [field("form.arrived_at", text="2026-11-27T09:05:00+08:00"), field("form.diagnosis", text="slipping belt")])
        for client in (b, a, b):
            await client.sync_now(Recorder())
        ra, rb = await a.read_record(record.id), await b.read_record(record.id)
        fa = {f.path: (f.value, f.conflicts) for f in ra.fields}
        fb = {f.path: (f.value, f.conflicts) for f in rb.fields}
        assert fa == fb
        assert len(fa["form.arrived_at"][1]) == 2, "the concurrent arrival times are both visible"
        assert fa["form.parts_used"][0] == "belt" and fa["form.diagnosis"][0] == "slipping belt"

    run(go())


def test_a_refused_change_is_surfaced_with_its_reason(server):
    office = Office(server)
    visit = office.job()
    office.dispatch(visit, tech_index=0)
    store = Path(tempfile.mkdtemp()) / "phone.sqlite"

    async def go():
        client = await phone(server, office.techs[0], store)
        await client.sync_now(Recorder())
        # Offline, the technician works on it; meanwhile the job is given to someone else.
        await client.record_fields(visit, [field("form.diagnosis", text="checked the motor")])
        office.dispatch(visit, tech_index=1, reassign=True)
        summary = await client.sync_now(Recorder())
        assert [r.id for r in summary.refused] == [visit]
        refused = await client.refused_records()
        assert refused[0].code == "not_visible"
        assert refused[0].kind == "visit"
        assert refused[0].message
        # The technician's notes stay readable on the phone.
        record = await client.read_record(visit)
        assert {f.path: f.value for f in record.fields}["form.diagnosis"] == "checked the motor"

    run(go())


def test_bad_input_gives_the_right_error(server):
    office = Office(server)
    visit = office.job()
    office.dispatch(visit)
    store = Path(tempfile.mkdtemp()) / "phone.sqlite"

    async def go():
        client = await sdk.open_client(str(store), server.base)
        try:
            await client.login(office.techs[0], "wrong password")
            raise AssertionError("a wrong password must fail")
        except sdk.FieldloopError.Unauthorized as e:
            assert e.code == "bad_credentials"
            assert sdk.error_code(e) == sdk.ErrorCode.BAD_CREDENTIALS
            assert not sdk.is_retryable(e)
        await client.login(office.techs[0], f"{office.techs[0]}-password-for-tests")
        await client.register_device("phone")
        await client.sync_now(Recorder())
        for bad in ("12.345", "-1", "ten"):
            try:
                await client.record_fields(visit, [field("form.travel_fen", yuan=bad)])
                raise AssertionError(f"money {bad!r} must be refused")
            except sdk.FieldloopError.InvalidInput:
                pass
        try:
            await client.record_fields(visit, [field("form.outcome", text="fixed_on_site")])
            raise AssertionError("completion without signature must be refused")
        except sdk.FieldloopError.InvalidInput as e:
            assert "sign" in str(e)
        try:
            await client.answer_survey(visit, 6, "great", "")
            raise AssertionError("a rating of 6 must be refused")
        except sdk.FieldloopError.InvalidInput:
            pass
        try:
            await client.read_record(str(uuid.uuid4()))
            raise AssertionError("an unknown record")
        except sdk.FieldloopError.NotFound:
            pass
        # Nothing of the refused input was written.
        record = await client.read_record(visit)
        paths = {f.path for f in record.fields}
        assert "form.travel_fen" not in paths and "form.outcome" not in paths
        survey = await client.answer_survey(visit, 5, "quick and polite", "")
        assert {f.path: f.value for f in survey.fields}["answer.rating"] == "5"

    run(go())


def test_a_server_address_the_phone_cannot_use_is_refused_before_anything_is_stored():
    store = Path(tempfile.mkdtemp()) / "phone.sqlite"

    async def go():
        # Plain http to another machine (passwords and signatures in the clear), another
        # scheme, no address at all.
        for bad in ("http://10.20.30.40:8080", "ftp://localhost/", "phone"):
            try:
                await sdk.open_client(str(store), bad)
                raise AssertionError(f"{bad!r} must be refused")
            except sdk.FieldloopError.InvalidInput as e:
                assert not sdk.is_retryable(e)
        assert not store.exists(), "no store file for a refused address"
        # A company certificate authority that is not PEM.
        try:
            await sdk.open_client_with(
                str(store),
                "https://fieldloop.example.com",
                sdk.ConnectOptions(extra_roots_pem="not a certificate", allow_plain_http=False),
            )
            raise AssertionError("a CA that is not PEM must be refused")
        except sdk.FieldloopError.InvalidInput:
            pass
        assert not store.exists(), "no store file for a refused authority"
        # A test network may be allowed plain http, explicitly.
        client = await sdk.open_client_with(
            str(store),
            "http://10.20.30.40:8080",
            sdk.ConnectOptions(extra_roots_pem=None, allow_plain_http=True),
        )
        await client.shutdown()

    run(go())


def test_a_second_client_on_one_store_is_refused(server):
    store = Path(tempfile.mkdtemp()) / "phone.sqlite"

    async def two():
        first = await sdk.open_client(str(store), server.base)
        try:
            await sdk.open_client(str(store), server.base)
            raise AssertionError("a second client on the same store must be refused")
        except sdk.FieldloopError.InvalidInput as e:
            assert "open in another client" in e.reason, e.reason
        await first.shutdown()
        # Once the first is shut down, the store opens again.
        again = await sdk.open_client(str(store), server.base)
        await again.shutdown()

    run(two())
