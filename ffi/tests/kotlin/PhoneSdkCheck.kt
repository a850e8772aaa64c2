// The phone SDK driven from Kotlin, as an Android app would, against a real server started by
// scripts/kotlin-check.sh: sign in, register the phone, record a visit offline, sync it with
// progress, bad input refused with a typed error, and a server that cannot be reached reported
// as worth retrying. Compiled with -Werror; exits non-zero on the first failed check.

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import kotlinx.coroutines.runBlocking
import uniffi.fieldloop_ffi.FieldInput
import uniffi.fieldloop_ffi.FieldloopException
import uniffi.fieldloop_ffi.SyncProgress
import uniffi.fieldloop_ffi.isRetryable
import uniffi.fieldloop_ffi.openClient

private fun check(ok: Boolean, what: String) {
    if (!ok) {
        System.err.println("FAILED: $what")
        kotlin.system.exitProcess(1)
    }
    println("ok: $what")
}

private val http: HttpClient = HttpClient.newHttpClient()

/** A JSON call to the server; the answer's status and body. */
private fun call(base: String, method: String, path: String, token: String?, body: String?): Pair<Int, String> {
    val request = HttpRequest.newBuilder(URI.create("$base$path"))
        .header("content-type", "application/json")
        .method(method, if (body == null) HttpRequest.BodyPublishers.noBody() else HttpRequest.BodyPublishers.ofString(body))
    if (token != null) request.header("authorization", "Bearer $token")
    val response = http.send(request.build(), HttpResponse.BodyHandlers.ofString())
    return response.statusCode() to response.body()
}

private fun field(json: String, name: String): String =
    Regex("\"$name\"\\s*:\\s*\"([^\"]*)\"").find(json)?.groupValues?.get(1) ?: ""

private class Recorder : SyncProgress {
    val calls = mutableListOf<List<ULong>>()
    override fun onProgress(docsDone: ULong, docsTotal: ULong, bytesDone: ULong, bytesTotal: ULong) {
        calls.add(listOf(docsDone, docsTotal, bytesDone, bytesTotal))
    }
}

private fun text(path: String, value: String) = FieldInput(path, value, null, null)

fun main(args: Array<String>) = runBlocking {
    val base = args[0]
    val adminPassword = args[1]
    val (status, login) = call(base, "POST", "/api/auth/login", null, """{"username":"admin","password":"$adminPassword"}""")
    check(status == 200, "the admin signs in ($status)")
    val admin = field(login, "access_token")
    val name = "tech_kt_" + System.nanoTime().toString().takeLast(6)
    val password = "$name-password-for-tests"
    // The Wuhan office on the managed list (409 when it is there already), then its technician.
    val (region, _) = call(base, "POST", "/api/regions", admin, """{"code":"wuhan","name":"武汉办事处"}""")
    check(region == 201 || region == 409, "the region exists ($region)")
    val (created, user) = call(
        base, "POST", "/api/users", admin,
        """{"username":"$name","display_name":"李师傅","password":"$password","role":"technician","region":"wuhan"}""",
    )
    check(created == 201, "a technician is created ($created $user)")

    val store = Files.createTempDirectory("fieldloop-kt").resolve("phone.sqlite").toString()
    val phone = openClient(store, base)
    phone.login(name, password)
    phone.registerDevice("李师傅的手机")

    // Offline: a visit with a diagnosis (a note: one entry per write) and the parts used.
    val visit = phone.createVisit(listOf(text("form.diagnosis", "皮带磨损"), text("form.parts_used", "皮带 A-42")))
    phone.recordFields(visit.id, listOf(text("form.diagnosis", "更换后试机正常")))
    val read = phone.readRecord(visit.id)
    val diagnosis = read.fields.first { it.path == "form.diagnosis" }
    check(diagnosis.value == "皮带磨损\n更换后试机正常", "a note keeps both lines (${diagnosis.value})")
    check(diagnosis.labelZh == "故障诊断", "fields carry their Chinese label")

    val progress = Recorder()
    val summary = phone.syncNow(progress)
    check(summary.pushed == 1UL, "the visit is sent (${summary.pushed})")
    check(summary.refused.isEmpty(), "nothing is refused")
    check(progress.calls.isNotEmpty() && progress.calls.last()[0] == progress.calls.last()[1], "progress reaches its total")

    // Bad input: a path that is not on the form, and a path the technician may not write.
    for (bad in listOf("form.nonsense", "dispatch.technician")) {
        try {
            phone.recordFields(visit.id, listOf(text(bad, "x")))
            check(false, "$bad is refused")
        } catch (e: FieldloopException) {
            check(!isRetryable(e), "$bad: refused for good, not worth retrying (${e.message})")
        }
    }
    check(phone.readRecord(visit.id).fields.none { it.path == "form.nonsense" }, "the refused writes changed nothing")
    // The customer's signature for a product given back goes on a take-back receipt only.
    try {
        phone.captureHandbackSignature(visit.id, byteArrayOf(1, 2, 3), "image/png", "王经理")
        check(false, "a hand-back signature on a visit is refused")
    } catch (e: FieldloopException.InvalidInput) {
        check(e.reason.contains("not a take-back receipt"), "a hand-back signature on a visit is refused (${e.reason})")
    }
    phone.shutdown()

    // A server that cannot be reached: offline, worth retrying later.
    val nowhere = openClient(Files.createTempDirectory("fieldloop-kt").resolve("p.sqlite").toString(), "http://127.0.0.1:9")
    try {
        nowhere.login(name, password)
        check(false, "signing in without a server fails")
    } catch (e: FieldloopException.Offline) {
        check(isRetryable(e), "offline is worth retrying (${e.reason})")
    }
    nowhere.shutdown()
    println("the Kotlin phone SDK check passed")
}
