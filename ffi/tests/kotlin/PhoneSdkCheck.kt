// The phone SDK driven from Kotlin, as an Android app would, against a real server started by
// scripts/kotlin-check.sh. Each check prints "ok: ..." and the program exits non-zero on the
// first that fails. What it walks:
//  - a technician's day: the dispatched job arrives (and is shown once as an alert), the visit
//    is recorded offline with its fee, a photo of the nameplate and the customer's signature, a
//    take-back receipt is issued, the customer's survey answer is taken, and it all syncs with
//    progress counted in bytes, the photo first;
//  - a salesperson's complaint form filled offline and sent;
//  - a sync cancelled midway (the coroutine cancelled), then run again: nothing lost, nothing
//    doubled on the server;
//  - a change the server refuses (the job was given to someone else) surfaced with its reason,
//    and the record recovered from the server's version;
//  - photos refused with typed errors (empty, not an image, 40 MB, on a receipt) and a full
//    photo space refused until a sync uploads what waits;
//  - a second client on the same store refused; bad input refused with typed errors; a server
//    that cannot be reached reported as worth retrying.
// Compiled with -Werror. Every SDK call is a suspend function: nothing blocks the caller.

import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import javax.imageio.ImageIO
import uniffi.fieldloop_ffi.ConnectOptions
import uniffi.fieldloop_ffi.FieldInput
import uniffi.fieldloop_ffi.FieldloopClient
import uniffi.fieldloop_ffi.FieldloopException
import uniffi.fieldloop_ffi.SyncProgress
import uniffi.fieldloop_ffi.isRetryable
import uniffi.fieldloop_ffi.openClient
import uniffi.fieldloop_ffi.openClientWith

private fun check(ok: Boolean, what: String) {
    if (!ok) {
        System.err.println("FAILED: $what")
        kotlin.system.exitProcess(1)
    }
    println("ok: $what")
}

private val http: HttpClient = HttpClient.newHttpClient()

/** A JSON call to the server, off the caller's thread; the answer's status and body. */
private suspend fun call(base: String, method: String, path: String, token: String?, body: String?): Pair<Int, String> =
    withContext(Dispatchers.IO) {
        val request = HttpRequest.newBuilder(URI.create("$base$path"))
            .header("content-type", "application/json")
            .method(method, if (body == null) HttpRequest.BodyPublishers.noBody() else HttpRequest.BodyPublishers.ofString(body))
        if (token != null) request.header("authorization", "Bearer $token")
        val response = http.send(request.build(), HttpResponse.BodyHandlers.ofString())
        response.statusCode() to response.body()
    }

private fun field(json: String, name: String): String =
    Regex("\"$name\"\\s*:\\s*\"([^\"]*)\"").find(json)?.groupValues?.get(1) ?: ""

private class Recorder : SyncProgress {
    val calls = mutableListOf<List<ULong>>()
    override fun onProgress(docsDone: ULong, docsTotal: ULong, bytesDone: ULong, bytesTotal: ULong) {
        synchronized(calls) { calls.add(listOf(docsDone, docsTotal, bytesDone, bytesTotal)) }
    }
}

/** Signals the first progress callback: the sync is under way. */
private class Started : SyncProgress {
    val first = CompletableDeferred<Unit>()
    override fun onProgress(docsDone: ULong, docsTotal: ULong, bytesDone: ULong, bytesTotal: ULong) {
        first.complete(Unit)
    }
}

/** A camera's photo: a JPEG of `width` x `height` with detail in it (so that it is not tiny). */
private fun cameraJpeg(width: Int, height: Int, seed: Int): ByteArray {
    val picture = BufferedImage(width, height, BufferedImage.TYPE_INT_RGB)
    val random = java.util.Random(seed.toLong())
    for (y in 0 until height) {
        for (x in 0 until width) {
            val grey = (x * 255 / width + random.nextInt(64)) and 0xff
            picture.setRGB(x, y, (grey shl 16) or ((y * 255 / height) shl 8) or random.nextInt(256))
        }
    }
    val out = ByteArrayOutputStream()
    ImageIO.write(picture, "jpg", out)
    return out.toByteArray()
}

private fun text(path: String, value: String) = FieldInput(path, value, null, null)
private fun yuan(path: String, value: String) = FieldInput(path, null, null, value)
private fun number(path: String, value: Long) = FieldInput(path, null, value, null)

private val png = byteArrayOf(0x89.toByte(), 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x20, 0x73, 0x69, 0x67, 0x6e)

/** The server's people for this run, each with a token. */
private class Office(val base: String, val admin: String) {
    val tag = System.nanoTime().toString().takeLast(6)
    val tokens = mutableMapOf<String, String>()
    val ids = mutableMapOf<String, String>()
    var count = 0

    suspend fun person(role: String, region: String?): String {
        count += 1
        val name = "${role}_kt_${tag}_$count"
        val password = "$name-password-for-tests"
        val regionJson = if (region == null) "null" else "\"$region\""
        val (created, user) = call(
            base, "POST", "/api/users", admin,
            """{"username":"$name","display_name":"$name","password":"$password","role":"$role","region":$regionJson}""",
        )
        check(created == 201, "$role $name is created ($created $user)")
        ids[name] = field(user, "id")
        val (status, login) = call(base, "POST", "/api/auth/login", null, """{"username":"$name","password":"$password"}""")
        check(status == 200, "$name signs in")
        tokens[name] = field(login, "access_token")
        return name
    }

    suspend fun job(clerk: String): String {
        val (_, customer) = call(base, "POST", "/api/customers", tokens[clerk], """{"name":"武汉某厂","address":"武汉","phone":"027-1"}""")
        val (_, product) = call(
            base, "POST", "/api/products", tokens[clerk],
            """{"customer_id":"${field(customer, "id")}","name":"搅拌机","model":"BC-350","purchase_date":"2026-06-01","warranty_months":12}""",
        )
        val (status, visit) = call(base, "POST", "/api/visits", tokens[clerk], """{"product_id":"${field(product, "id")}","category":"A","channel":"phone"}""")
        check(status == 201, "the clerk registers a request ($status)")
        return field(visit, "id")
    }

    suspend fun dispatch(director: String, visit: String, tech: String, reassign: Boolean = false) {
        val (status, body) = call(
            base, "POST", "/api/visits/$visit/dispatch", tokens[director],
            """{"technician_id":"${ids[tech]}","reassign":$reassign}""",
        )
        check(status == 200, "the job is dispatched to $tech" + if (status == 200) "" else " ($status $body)")
    }
}

private suspend fun phoneFor(base: String, name: String): Pair<FieldloopClient, String> {
    val store = Files.createTempDirectory("fieldloop-kt").resolve("phone.sqlite").toString()
    val phone = openClient(store, base)
    phone.login(name, "$name-password-for-tests")
    phone.registerDevice("$name 的手机")
    return phone to store
}

fun main(args: Array<String>) = runBlocking {
    val base = args[0]
    val adminPassword = args[1]
    val (status, login) = call(base, "POST", "/api/auth/login", null, """{"username":"admin","password":"$adminPassword"}""")
    check(status == 200, "the admin signs in ($status)")
    val admin = field(login, "access_token")
    // The Wuhan office on the managed list (409 when it is there already).
    val (region, _) = call(base, "POST", "/api/regions", admin, """{"code":"wuhan","name":"武汉办事处"}""")
    check(region == 201 || region == 409, "the region exists ($region)")
    val office = Office(base, admin)
    val clerk = office.person("clerk", "wuhan")
    val director = office.person("factory_director", null)
    val tech = office.person("technician", "wuhan")
    val other = office.person("technician", "wuhan")
    val sales = office.person("salesperson", "wuhan")

    // Morning: the dispatched job arrives, and is shown once.
    val job = office.job(clerk)
    office.dispatch(director, job, tech)
    val (phone, store) = phoneFor(base, tech)
    val morning = Recorder()
    check(phone.syncNow(morning).pulled == 1UL, "the job arrives")
    val alerts = phone.alerts()
    check(alerts.size == 1 && alerts[0].kind == "dispatch" && alerts[0].recordId == job, "the new job is an alert")
    phone.acknowledgeAlert(alerts[0].key)
    check(phone.alerts().isEmpty(), "an acknowledged alert is not shown again")

    // A second client on the same store is refused while this one has it.
    try {
        openClient(store, base)
        check(false, "a second client on one store is refused")
    } catch (e: FieldloopException.InvalidInput) {
        check(e.reason.contains("open in another client"), "a second client on one store is refused (${e.reason})")
    }

    // On site, no signal: the visit, its fee, the signature, a take-back receipt, the survey.
    phone.recordFields(
        job,
        listOf(
            text("form.arrived_at", "2026-11-27T10:00:00+08:00"),
            text("form.diagnosis", "皮带磨损"),
            text("form.work_done", "更换皮带"),
            yuan("form.travel_fen", "120.50"),
            yuan("fee.amount_fen", "200"),
            text("fee.method", "cash_on_site"),
        ),
    )
    val nameplate = cameraJpeg(3000, 2000, 1)
    val photo = phone.addPhoto(job, nameplate, "铭牌")
    check(
        photo.bytes < nameplate.size.toULong() && !photo.uploaded && photo.caption == "铭牌",
        "the nameplate photo is made smaller and waits for upload (${nameplate.size} -> ${photo.bytes} bytes)",
    )
    val signed = phone.captureSignature(job, png, "image/png", "王经理", listOf(text("form.outcome", "taken_back")))
    check(!signed.changedAfterSigning, "the signed visit reads as signed")
    val receipt = phone.issueReceipt(
        job,
        listOf(text("receipt.product_serial", "SN-001"), text("receipt.promised_date", "2026-12-05")),
        png, "image/png", "王经理",
    )
    val receiptNumber = receipt.fields.first { it.path == "receipt.number" }.value
    check(Regex("R\\d{3,}-\\d{5}").matches(receiptNumber), "the receipt has a short number: $receiptNumber")
    val survey = phone.answerSurvey(job, 5u, "师傅很耐心", "")
    check(survey.fields.first { it.path == "answer.rating" }.value == "5", "the survey answer is kept")
    val day = Recorder()
    val summary = phone.syncNow(day)
    check(summary.refused.isEmpty() && summary.pushed == 3UL, "the day's three records are sent (${summary.pushed})")
    check(summary.blobsUploaded == 2UL, "the photo and the signature image are uploaded, each once")
    val last = day.calls.last()
    check(last[0] == last[1] && last[2] == last[3], "progress reaches its totals in records and bytes")
    check(last[3] >= photo.bytes, "the photo's bytes are counted in the progress (${last[3]} bytes in all)")
    check(day.calls.any { it[0] == 0UL && it[2] >= photo.bytes }, "the photo is uploaded before any record is sent")
    check(phone.photos(job).single().uploaded, "the photo reads as uploaded")
    val (photoStatus, _) = call(base, "GET", "/api/blobs/${photo.sha256}", office.tokens[clerk], null)
    check(photoStatus == 200, "the office sees the photo ($photoStatus)")
    val (docStatus, doc) = call(base, "GET", "/api/docs/$job", office.tokens[clerk], null)
    check(docStatus == 200 && doc.contains("王经理"), "the office reads the signed visit")

    // A salesperson's complaint form, filled offline and sent to quality.
    val (salesPhone, _) = phoneFor(base, sales)
    val form = salesPhone.fillComplaint(
        listOf(
            text("form.customer_name", "湖北某建设公司"),
            text("form.order_number", "SO-2026-118"),
            number("form.quantity", 2),
            yuan("form.claimed_fen", "500"),
            text("form.defect", "焊缝开裂"),
            text("form.submitted_at", "2026-11-27T16:00:00+08:00"),
        ),
    )
    check(salesPhone.syncNow(Recorder()).refused.isEmpty(), "the complaint form is sent")
    check(salesPhone.readRecord(form.id).kind == "complaint", "the form stays on the phone")
    salesPhone.shutdown()

    // Forty visits, a sync cancelled once it is under way, then run again.
    val made = (1..40).map { phone.createVisit(listOf(text("form.diagnosis", "巡检 $it"))).id }
    val started = Started()
    val first = launch { phone.syncNow(started) }
    started.first.await()
    first.cancel()
    first.join()
    check(first.isCancelled, "the sync coroutine was cancelled midway")
    val again = phone.syncNow(Recorder())
    check(again.refused.isEmpty(), "the sync after the cancel goes through")
    val (listStatus, list) = call(base, "GET", "/api/docs?kind=visit&limit=1000", admin, null)
    check(listStatus == 200, "the office lists visits")
    val onServer = made.map { id -> Regex("\"id\"\\s*:\\s*\"$id\"").findAll(list).count() }
    check(onServer.all { it == 1 }, "each of the 40 visits is on the server once (${onServer.count { it == 1 }})")

    // A change the server refuses: the job was given to someone else meanwhile.
    val job2 = office.job(clerk)
    office.dispatch(director, job2, tech)
    phone.syncNow(Recorder())
    phone.recordFields(job2, listOf(text("form.diagnosis", "检查电机")))
    office.dispatch(director, job2, other, reassign = true)
    val refusedSync = phone.syncNow(Recorder())
    check(refusedSync.refused.map { it.id } == listOf(job2), "the refused record is named")
    val refused = phone.refusedRecords()
    check(refused.size == 1 && refused[0].code == "not_visible" && refused[0].message.isNotEmpty(), "the refusal has its reason")
    check(phone.readRecord(job2).fields.first { it.path == "form.diagnosis" }.value == "检查电机", "the refused notes stay readable")
    val lost = phone.recoverRefused(job2)
    check(lost.isNotEmpty() && phone.refusedRecords().isEmpty(), "the refused record is rebuilt from what the server lets this phone have; the fields it could not keep are named ($lost)")

    // Bad input: a path that is not on the form, and a path the technician may not write.
    for (bad in listOf("form.nonsense", "dispatch.technician")) {
        try {
            phone.recordFields(job2, listOf(text(bad, "x")))
            check(false, "$bad is refused")
        } catch (e: FieldloopException) {
            check(!isRetryable(e), "$bad: refused for good, not worth retrying (${e.message})")
        }
    }
    try {
        phone.captureHandbackSignature(job, byteArrayOf(1, 2, 3), "image/png", "王经理")
        check(false, "a hand-back signature on a visit is refused")
    } catch (e: FieldloopException.InvalidInput) {
        check(e.reason.contains("not a take-back receipt"), "a hand-back signature on a visit is refused (${e.reason})")
    }
    try {
        phone.answerSurvey(job, 6u, "great", "")
        check(false, "a rating of 6 is refused")
    } catch (e: FieldloopException.InvalidInput) {
        check(true, "a rating of 6 is refused (${e.reason})")
    }
    // Photos: bad ones refused with typed errors, nothing stored.
    val badPhotos = listOf(
        "an empty photo" to ByteArray(0),
        "a file that is not an image" to "not a photo".toByteArray(),
        "a 40 MB photo" to ByteArray(40 * 1024 * 1024).also { it[0] = 0xFF.toByte(); it[1] = 0xD8.toByte(); it[2] = 0xFF.toByte() },
    )
    for ((what, bytes) in badPhotos) {
        try {
            phone.addPhoto(job2, bytes, "")
            check(false, "$what is refused")
        } catch (e: FieldloopException.InvalidInput) {
            check(true, "$what is refused (${e.reason})")
        }
    }
    try {
        phone.addPhoto(receipt.id, nameplate, "")
        check(false, "a photo on a receipt is refused")
    } catch (e: FieldloopException.InvalidInput) {
        check(true, "a photo on a receipt is refused (${e.reason})")
    }
    check(phone.photos(job2).isEmpty(), "no refused photo was stored")
    phone.shutdown()
    // Shut down, the store opens again.
    openClient(store, base).shutdown()
    check(true, "the store opens again after shutdown")

    // A full photo space: 8 MB for photos waiting, full-size photos until one is refused.
    val quotaStore = Files.createTempDirectory("fieldloop-kt").resolve("q.sqlite").toString()
    val small = openClientWith(quotaStore, base, ConnectOptions(null, false, 4000u, 95u, 8UL * 1024UL * 1024UL))
    small.login(tech, "$tech-password-for-tests")
    small.registerDevice("$tech 的备用手机")
    val spare = small.createVisit(listOf(text("form.diagnosis", "拍照")))
    var added = 0
    try {
        for (n in 1..20) {
            small.addPhoto(spare.id, cameraJpeg(2400, 1800, n), "照片 $n")
            added += 1
        }
        check(false, "a full photo space is refused")
    } catch (e: FieldloopException.QuotaFull) {
        check(added > 0, "the photo space fills after $added photos, and the next is refused (${e.reason})")
    }
    check(small.photos(spare.id).size == added, "the refused photo left nothing behind")
    small.syncNow(Recorder())
    small.addPhoto(spare.id, cameraJpeg(2400, 1800, 99), "同步后")
    check(small.photos(spare.id).size == added + 1, "after a sync the space is free again")
    small.shutdown()

    // A server that cannot be reached: offline, worth retrying later.
    val nowhere = openClient(Files.createTempDirectory("fieldloop-kt").resolve("p.sqlite").toString(), "http://127.0.0.1:9")
    try {
        nowhere.login(tech, "$tech-password-for-tests")
        check(false, "signing in without a server fails")
    } catch (e: FieldloopException.Offline) {
        check(isRetryable(e), "offline is worth retrying (${e.reason})")
    }
    nowhere.shutdown()
    println("the Kotlin phone SDK check passed")
}
