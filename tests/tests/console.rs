//! The console at `/` in a real, headless Chromium (API.md v1.1, "The
//! console"): one browser for the whole scenario (starting Chromium is the
//! slow part), controls found by their accessible names. A failure saves a
//! screenshot into the test's folder (and prints where).

use futures::FutureExt as _;
use roster_tests::browser::{Browser, xpath_literal};
use roster_tests::{Mode, World, strong_password};
use serde_json::{Value, json};
use std::panic::AssertUnwindSafe;

#[tokio::test]
async fn embedded_console_signs_in_imports_and_signs_out() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let browser = Browser::start(1280, 800).await;
    let outcome = AssertUnwindSafe(scenario(&world, &browser))
        .catch_unwind()
        .await;
    if let Err(panic) = outcome {
        let shot = world.dir.path().join("console-failure.png");
        let kept = std::env::temp_dir().join(format!(
            "roster-console-failure-{}.png",
            uuid::Uuid::new_v4().simple()
        ));
        if browser.screenshot(&shot).await.is_ok() {
            let _ = std::fs::copy(&shot, &kept);
            eprintln!(
                "screenshot: {} (kept as {})",
                shot.display(),
                kept.display()
            );
        }
        eprintln!("api.log:\n{}", world.log("api.log"));
        browser.close().await;
        std::panic::resume_unwind(panic);
    }
    browser.close().await;
}

async fn scenario(world: &World, b: &Browser) {
    let password = strong_password(10);
    let master = world
        .admin_with_password("Acme", "ana@acme.test", "master", &[], Some(&password))
        .await
        .expect("admin");
    let support = master.group("Support", None).await;
    let tier1 = master.group("Tier 1", Some(support)).await;
    let scoped_password = strong_password(11);
    let a = master
        .post(
            "/v1/admins",
            json!({"email": "bo@acme.test", "role": "admin", "group_ids": [tier1], "password": scoped_password}),
        )
        .await;
    assert_eq!(a.status, 201);

    // Sign-in: a failure says why.
    b.goto(&format!("{}/", world.api_url)).await;
    b.fill("Email", "ana@acme.test").await;
    b.fill("Password", "Not-The-Password-1").await;
    b.button("Sign in").await.click().await.expect("click");
    b.wait_text("//*[@role='alert']", "wrong").await;
    // Success: the navigation of a master.
    b.fill("Password", &password).await;
    b.button("Sign in").await.click().await.expect("click");
    for name in [
        "Imports",
        "Import technicians",
        "Organization",
        "Global Settings",
    ] {
        b.link(name).await;
    }
    b.button("Sign out").await;

    // Import technicians: group by type-ahead (keyboard), a file with good and bad rows.
    b.link("Import technicians")
        .await
        .click()
        .await
        .expect("click");
    for (name, file) in [
        ("CSV example", "technicians.csv"),
        ("JSON example", "technicians.json"),
        ("xlsx example", "technicians.xlsx"),
    ] {
        let href = b.link(name).await.attr("href").await.expect("href");
        assert_eq!(
            href.as_deref(),
            Some(format!("/v1/templates/{file}").as_str())
        );
    }
    let combo = b.field("Technician group").await;
    assert_eq!(
        combo.attr("role").await.unwrap().as_deref(),
        Some("combobox")
    );
    combo.send_keys("tier").await.expect("type");
    b.wait("//*[@role='listbox' and count(li)=1]/li[@role='option' and contains(., 'Tier 1')]")
        .await;
    combo.send_keys("\u{E015}").await.expect("arrow down");
    combo.send_keys("\u{E007}").await.expect("enter");
    let chosen = combo.prop("value").await.unwrap().unwrap_or_default();
    assert!(chosen.contains("Tier 1"), "{chosen}");
    let csv = format!(
        "Name,Email,Password\nAna One,one@acme.test,{}\nBad Password,weak@acme.test,abc\nAna Two,two@acme.test,{}\nNo Email,not-an-email,{}\nAna Three,three@acme.test,{}\n",
        strong_password(1),
        strong_password(2),
        strong_password(3),
        strong_password(4)
    );
    let file = world.dir.path().join("people.csv");
    std::fs::write(&file, csv).expect("csv");
    b.field("File")
        .await
        .send_keys(&file.display().to_string())
        .await
        .expect("choose file");
    let dry = b.field("Dry run").await;
    assert!(!dry.is_selected().await.unwrap());
    b.field("Existing technicians")
        .await
        .select_by_value("skip")
        .await
        .expect("select");
    b.button("Start import").await.click().await.expect("click");

    // The import's page follows it to the end.
    b.wait_text(
        "//p[starts-with(normalize-space(.), 'Status:')]",
        "Completed",
    )
    .await;
    let bar = b.wait("//*[@role='progressbar']").await;
    assert_eq!(
        bar.attr("aria-valuenow").await.unwrap().as_deref(),
        Some("5")
    );
    assert_eq!(
        bar.attr("aria-valuemax").await.unwrap().as_deref(),
        Some("5")
    );
    b.wait("//h2[normalize-space(.)='Import Summary']").await;
    for header in ["Row", "Email", "Errors"] {
        b.wait(&format!(
            "//th[normalize-space(.)={}]",
            xpath_literal(header)
        ))
        .await;
    }
    for (count, value) in [("Created", "3"), ("Failed", "2"), ("Not processed", "0")] {
        b.wait(&format!(
            "//dt[normalize-space(.)='{count}']/following-sibling::dd[normalize-space(.)='{value}']"
        ))
        .await;
    }
    let failed = b
        .client
        .find_all(fantoccini::Locator::XPath(
            "//table[.//th[normalize-space(.)='Errors']]/tbody/tr",
        ))
        .await
        .expect("rows");
    assert_eq!(failed.len(), 2);
    let first = failed[0].text().await.unwrap();
    assert!(
        first.contains('3') && first.contains("weak@acme.test") && first.contains("Password"),
        "{first}"
    );
    assert!(
        !b.has("//button[normalize-space(.)='Cancel import']").await || {
            !b.button("Cancel import")
                .await
                .is_displayed()
                .await
                .unwrap()
        }
    );
    let href = b
        .link("Download result")
        .await
        .attr("href")
        .await
        .unwrap()
        .expect("href");
    assert!(href.ends_with("/result.xlsx"), "{href}");
    assert_eq!(master.get(&href).await.status, 200);
    let import_url = b.client.current_url().await.unwrap();

    // The imports list links to it.
    b.link("Imports").await.click().await.expect("click");
    let entry = b.link("people.csv").await;
    assert_eq!(
        entry.attr("href").await.unwrap().as_deref(),
        Some(import_url.path())
    );
    // The organization's tree.
    b.link("Organization").await.click().await.expect("click");
    b.button("Create group").await;
    b.button("Create technician").await;
    b.button("Tier 1").await.click().await.expect("click");
    b.wait("//td[normalize-space(.)='one@acme.test']").await;

    // Signing out ends the session: a reload shows the sign-in again.
    b.button("Sign out").await.click().await.expect("click");
    b.field("Email").await;
    b.goto(&format!("{}/imports", world.api_url)).await;
    b.button("Sign in").await;
    assert!(!b.has("//a[normalize-space(.)='Imports']").await);

    // A scoped administrator sees no Global Settings.
    b.fill("Email", "bo@acme.test").await;
    b.fill("Password", &scoped_password).await;
    b.button("Sign in").await.click().await.expect("click");
    b.link("Organization").await;
    b.button("Sign out").await;
    assert!(!b.has("//a[normalize-space(.)='Global Settings']").await);

    // The browser's console: no errors but the one refused sign-in.
    let log = b.console_log().await;
    assert!(
        log.iter()
            .any(|e| e["message"].as_str().is_some_and(|m| m.contains("401"))),
        "the console log is read (it shows the refused sign-in): {log:#?}"
    );
    let errors: Vec<Value> = log
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .filter(|e| {
            let message = e["message"].as_str().unwrap_or_default();
            !(message.contains("/v1/session") && message.contains("401"))
        })
        .collect();
    assert!(errors.is_empty(), "browser console errors: {errors:#?}");
}
