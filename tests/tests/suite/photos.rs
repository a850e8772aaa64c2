//! Photos as evidence, end to end on both engines: made ready on the phone (smaller, upright,
//! without the camera's metadata, the capture time kept), stored with their record in one
//! transaction, uploaded before the change that shows them, visible to who may see the record
//! and on the back office's record page, kept by the blob sweep, and bad ones refused with
//! nothing stored.

use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{DocKind, Role};
use fieldloop_client_core::photo::PhotoOptions;
use fieldloop_e2e::{TestServer, both_engines, login_token, now};

const TECH: Author = Author::Device(Role::Technician);

/// A camera's JPEG of `width` x `height` with an EXIF block naming the phone (make, model,
/// serial) and the time it was taken, 2026-12-02 09:30:00 on the phone's clock, rotated a
/// quarter turn (orientation 6) as phones store portrait photos.
fn camera_jpeg(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
    });
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(&picture)
        .unwrap();
    // The APP1 block goes right after the start-of-image marker.
    let tiff = exif_tiff();
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(&tiff);
    let mut jpeg = plain[..2].to_vec();
    jpeg.extend([0xFF, 0xE1]);
    jpeg.extend(((app1.len() + 2) as u16).to_be_bytes());
    jpeg.extend(app1);
    jpeg.extend(&plain[2..]);
    jpeg
}

/// IFD0: make, model, orientation and the EXIF directory; that directory: the capture time and
/// the body's serial number. Little-endian.
fn exif_tiff() -> Vec<u8> {
    let ascii = |s: &str| format!("{s}\0").into_bytes();
    let ifd0: Vec<(u16, u16, Vec<u8>)> = vec![
        (0x010F, 2, ascii("Fieldphone")),
        (0x0110, 2, ascii("FP-X1 SN-SECRET-4711")),
        (0x0112, 3, 6u16.to_le_bytes().to_vec()),
        (0x8769, 4, Vec::new()),
    ];
    let exif: Vec<(u16, u16, Vec<u8>)> = vec![
        (0x9003, 2, ascii("2026:12:02 09:30:00")),
        (0xA431, 2, ascii("BODY-SERIAL-0042")),
    ];
    let dir_len = |n: usize| 2 + n * 12 + 4;
    let ifd0_at = 8usize;
    let exif_at = ifd0_at + dir_len(ifd0.len());
    let mut values_at = exif_at + dir_len(exif.len());
    let mut out = b"II\x2a\x00".to_vec();
    out.extend((ifd0_at as u32).to_le_bytes());
    let mut values: Vec<u8> = Vec::new();
    for (dir, next_dir) in [(&ifd0, Some(exif_at)), (&exif, None)] {
        out.extend((dir.len() as u16).to_le_bytes());
        for (tag, ty, data) in dir.iter() {
            out.extend(tag.to_le_bytes());
            out.extend(ty.to_le_bytes());
            match (*tag, *ty) {
                (0x8769, _) => {
                    out.extend(1u32.to_le_bytes());
                    out.extend((next_dir.unwrap_or(0) as u32).to_le_bytes());
                }
                (_, 3) => {
                    out.extend(1u32.to_le_bytes());
                    let mut inline = data.clone();
                    inline.resize(4, 0);
                    out.extend(inline);
                }
                _ => {
                    out.extend((data.len() as u32).to_le_bytes());
                    out.extend((values_at as u32).to_le_bytes());
                    values_at += data.len();
                    values.extend(data);
                }
            }
        }
        out.extend(0u32.to_le_bytes());
    }
    out.extend(values);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn photos_end_to_end(server: TestServer) -> anyhow::Result<()> {
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    server.user("clerk", Role::Clerk, Some("wuhan")).await?;
    server.user("far", Role::Clerk, Some("beijing")).await?;
    let phone = server.device("tech").await?;
    let store = phone.store();
    let visit = store.create(DocKind::Visit, "wuhan", now()).await?.id();
    let options = PhotoOptions::default();

    // Taken offline: smaller, upright, without the phone's make, model or serials, its
    // capture time kept (09:30 on the phone's clock in Beijing is 01:30 UTC).
    let camera = camera_jpeg(2400, 1800);
    assert!(contains(&camera, b"SN-SECRET-4711"));
    let photo = store
        .add_photo(
            visit,
            TECH,
            "form.photos",
            &camera,
            " 铭牌 ",
            now(),
            &options,
        )
        .await?;
    assert_eq!(photo.caption, "铭牌");
    assert_eq!(photo.taken_at, 1_796_175_000, "the camera's capture time");
    let stored = store
        .blob(&photo.sha256)
        .await?
        .expect("stored on the phone");
    assert_eq!(stored.mime, "image/jpeg");
    for secret in [
        &b"Exif"[..],
        b"Fieldphone",
        b"SN-SECRET-4711",
        b"BODY-SERIAL-0042",
    ] {
        assert!(
            !contains(&stored.bytes, secret),
            "the stored photo carries {:?}",
            String::from_utf8_lossy(secret)
        );
    }
    let shown = image::load_from_memory(&stored.bytes)?;
    // Orientation 6: the 2400 x 1800 landscape pixels are a portrait photo, 1200 x 1600.
    assert_eq!((shown.width(), shown.height()), (1200, 1600));
    assert_eq!(
        store.load(visit).await?.unwrap().photos("form.photos"),
        vec![photo.clone()]
    );

    // Bad photos: each refused, nothing stored, the record unchanged.
    let heads = store.load(visit).await?.unwrap().heads();
    let mut huge = vec![0xFF, 0xD8, 0xFF];
    huge.resize(40 * 1024 * 1024, 0);
    let long_caption = "很".repeat(201);
    let cases: Vec<(&str, &[u8], &str, &str)> = vec![
        ("an empty photo", &[], "form.photos", ""),
        (
            "text, not an image",
            b"not a photo at all",
            "form.photos",
            "",
        ),
        ("a broken JPEG", &camera[..600], "form.photos", ""),
        ("a 40 MB photo", &huge, "form.photos", ""),
        (
            "a caption of 201 characters",
            &camera,
            "form.photos",
            &long_caption,
        ),
        ("photos in a note", &camera, "form.diagnosis", ""),
    ];
    for (what, bytes, path, caption) in cases {
        let refused = store
            .add_photo(visit, TECH, path, bytes, caption, now(), &options)
            .await;
        assert!(
            matches!(refused, Err(fieldloop_client_core::Error::Invalid(_))),
            "{what}: {refused:?}"
        );
    }
    assert_eq!(store.load(visit).await?.unwrap().heads(), heads);
    assert_eq!(
        store.pending_blob_sizes().await?.len(),
        1,
        "only the good photo waits"
    );

    // Synced: the photo goes up before the record, and the server projects it.
    let report = phone.sync().await?;
    assert_eq!((report.blobs_uploaded, report.pushed), (1, 1));
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert!(store.pending_blob_sizes().await?.is_empty());
    let fields = server.state.db.doc_fields(visit).await?;
    assert!(
        fields
            .iter()
            .any(|f| f.path == "form.photos.0.blob_sha256" && f.value == photo.sha256),
        "{fields:?}"
    );

    // Who may see the record sees the photo; an office of another region is told there is none.
    let base = server.base();
    let http = fieldloop_e2e::http();
    for (who, status) in [("clerk", 200), ("far", 404)] {
        let token = login_token(&base, who).await?;
        let resp = http
            .get(format!("{base}/api/blobs/{}", photo.sha256))
            .bearer_auth(token)
            .send()
            .await?;
        assert_eq!(resp.status().as_u16(), status, "{who}");
    }
    // The record page shows it with its caption and the time taken, in company time.
    let browser = super::web::client();
    let cookie = super::web::sign_in(&browser, &base, "clerk").await?;
    let page = browser
        .get(format!("{base}/web/records/{visit}"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await?
        .text()
        .await?;
    assert!(
        page.contains(&format!(r#"<img src="/web/blobs/{}""#, photo.sha256))
            && page.contains("铭牌")
            && page.contains("2026-12-02 09:30"),
        "the record page shows the photo"
    );

    // The sweep of unused uploads keeps it, however old.
    let far_future = now() * 1000 + 365 * 86_400_000;
    server
        .state
        .db
        .delete_unreferenced_blobs(far_future)
        .await?;
    assert!(server.state.db.blob(&photo.sha256).await?.is_some());

    // A second photo on the phone, then a reference the server never got: the phone's
    // outbox holds the change, but its blob is marked uploaded without being sent.
    let second = store
        .add_photo(
            visit,
            TECH,
            "form.photos",
            &camera_jpeg(800, 600),
            "",
            now(),
            &options,
        )
        .await?;
    store.mark_blob_uploaded(&second.sha256).await?;
    let report = phone.sync().await?;
    assert_eq!(
        report.refused.len(),
        1,
        "a photo the server lacks is refused"
    );
    assert_eq!(report.refused[0].1.code.as_str(), "missing_blob");
    server.finish().await;
    Ok(())
}
both_engines!(photos_end_to_end_test, photos_end_to_end);

/// The phone's space for photos waiting for upload: full, the next photo is refused and
/// nothing is stored; after a sync it is free again.
async fn photo_space(server: TestServer) -> anyhow::Result<()> {
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let phone = server.device("tech").await?;
    let store = phone.store();
    let visit = store.create(DocKind::Visit, "wuhan", now()).await?.id();
    let options = PhotoOptions {
        longest_side: 4000,
        quality: 100,
        waiting_quota_bytes: fieldloop_client_core::wire::MAX_BLOB_BYTES as u64,
    };
    let mut added = 0;
    let refusal = loop {
        let camera = camera_jpeg(2000 + added, 1500);
        match store
            .add_photo(visit, TECH, "form.photos", &camera, "", now(), &options)
            .await
        {
            Ok(_) => added += 1,
            Err(e) => break e,
        }
        assert!(added < 50, "the space never filled");
    };
    assert!(
        matches!(refusal, fieldloop_client_core::Error::QuotaFull(_)),
        "{refusal:?}"
    );
    assert!(added > 0);
    let photos = store.load(visit).await?.unwrap().photos("form.photos");
    assert_eq!(
        photos.len(),
        added as usize,
        "the refused photo left no entry"
    );
    assert_eq!(store.pending_blob_sizes().await?.len(), added as usize);
    phone.sync().await?;
    store
        .add_photo(
            visit,
            TECH,
            "form.photos",
            &camera_jpeg(640, 480),
            "",
            now(),
            &options,
        )
        .await?;
    // Options out of range are refused before anything is read.
    let bad = PhotoOptions {
        longest_side: 10,
        ..PhotoOptions::default()
    };
    assert!(matches!(
        store
            .add_photo(
                visit,
                TECH,
                "form.photos",
                &camera_jpeg(640, 480),
                "",
                now(),
                &bad
            )
            .await,
        Err(fieldloop_client_core::Error::Invalid(_))
    ));
    server.finish().await;
    Ok(())
}
both_engines!(photo_space_test, photo_space);
