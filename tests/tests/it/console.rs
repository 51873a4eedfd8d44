//! The console at `/` in a real, headless Chromium (API.md v1.1, "The
//! console"): one browser for the whole scenario (starting Chromium is the
//! slow part), controls found by their accessible names. A failure saves a
//! screenshot into the test's folder (and prints where).

use futures::FutureExt as _;
use roster_tests::browser::{Browser, key, xpath_literal};
use roster_tests::{Client, Mode, World, strong_password};
use serde_json::{Value, json};
use std::panic::AssertUnwindSafe;

#[tokio::test]
async fn console_in_both_modes_signs_in_imports_manages_and_signs_out() {
    both_worlds(Browser::start(1280, 800).await).await;
}

/// The same in Firefox ESR, when it and geckodriver are installed
/// (`scripts/test` installs both); else it says so and passes.
#[tokio::test]
async fn console_in_firefox_signs_in_imports_manages_and_signs_out() {
    match Browser::start_firefox(1280, 800).await {
        Some(firefox) => both_worlds(firefox).await,
        None => eprintln!(
            "Firefox ESR or geckodriver is missing: the console ran in Chromium only \
             (apt-get install firefox-esr; cargo install geckodriver --locked)"
        ),
    }
}

/// One browser for both worlds: a session cookie belongs to its origin, so
/// the embedded world's sign-in means nothing to the cluster's API.
async fn both_worlds(browser: Browser) {
    let engine = browser.engine;
    for (mode, workers) in [(Mode::Embedded, 0), (Mode::Cluster, 1)] {
        let world = World::start(mode, workers, &[]).await;
        browser.resize(1280, 800).await;
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
                    "{engine:?}, {mode:?}: screenshot: {} (kept as {})",
                    shot.display(),
                    kept.display()
                );
            }
            eprintln!("{engine:?}, {mode:?}: api.log:\n{}", world.log("api.log"));
            browser.close().await;
            std::panic::resume_unwind(panic);
        }
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
    organization(world, b, &master, support, tier1).await;
    settings(b, &master).await;
    narrow(b, world).await;

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
    b.link("Organization").await.click().await.expect("click");
    b.button("Sign out").await;
    assert!(!b.has("//a[normalize-space(.)='Global Settings']").await);
    // Its tree holds its own group only, and its forms offer nothing else.
    b.wait("//nav[@aria-label='Technician groups']//button[normalize-space(.)='Tier 1']")
        .await;
    assert!(
        !b.has("//nav[@aria-label='Technician groups']//button[normalize-space(.)='Support']")
            .await
    );
    b.button("Sign out").await.click().await.expect("click");
    b.field("Email").await;

    keyboard(b, &master, &password, support).await;

    // The browser's console: no errors but the refusals provoked above.
    // Firefox's driver cannot read it (see `Browser::console_log`).
    let Some(log) = b.console_log().await else {
        return;
    };
    assert!(
        log.iter()
            .any(|e| e["message"].as_str().is_some_and(|m| m.contains("401"))),
        "the console log is read (it shows the refused sign-in): {log:#?}"
    );
    let errors: Vec<Value> = log
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .filter(|e| {
            // The refusals this scenario provokes on purpose (a wrong
            // password, a taken email) are logged by Chromium as failed loads.
            let message = e["message"].as_str().unwrap_or_default();
            let provoked = [("/v1/session ", "401"), ("/v1/technicians ", "409")];
            !provoked
                .iter()
                .any(|(path, status)| message.contains(path) && message.contains(status))
        })
        .collect();
    assert!(errors.is_empty(), "browser console errors: {errors:#?}");
}

/// The technician of `email`, read through the API.
async fn technician(master: &Client, email: &str) -> Value {
    let found = master
        .get(&format!("/v1/technicians?email={email}"))
        .await
        .json();
    found["items"]
        .as_array()
        .and_then(|items| items.first())
        .cloned()
        .unwrap_or_else(|| panic!("no technician {email}: {found}"))
}

/// Organization: create a technician with the strength indicator, then move
/// and disable it from its own form.
async fn organization(world: &World, b: &Browser, master: &Client, support: i64, tier1: i64) {
    b.link("Organization").await.click().await.expect("click");
    b.button("Create group").await;
    b.button("Tier 1").await.click().await.expect("click");
    b.wait("//td[normalize-space(.)='one@acme.test']").await;

    b.button("Create technician")
        .await
        .click()
        .await
        .expect("click");
    b.fill("Name", "Cy Hand").await;
    b.fill("Email", "cy@acme.test").await;
    b.fill("New password", "abc").await;
    b.wait_text("//*[@id='t-strength']", "the policy needs")
        .await;
    b.fill("New password", &strong_password(20)).await;
    b.wait_text("//*[@id='t-strength']", "meets the policy")
        .await;
    b.field("Mobile license")
        .await
        .click()
        .await
        .expect("tick mobile");
    let group = b.field("Technician group").await;
    group
        .select_by_value(&tier1.to_string())
        .await
        .expect("select group");
    b.button("Save changes").await.click().await.expect("click");
    b.wait("//td[normalize-space(.)='cy@acme.test']").await;
    let cy = technician(master, "cy@acme.test").await;
    assert_eq!(cy["group_id"], tier1, "{cy}");
    assert_eq!(cy["mobile_license"], true, "{cy}");
    assert!(
        !world.log("api.log").contains(&strong_password(20)),
        "the password reached a log line"
    );

    // The same email again: the form says why and nothing is created.
    b.button("Create technician")
        .await
        .click()
        .await
        .expect("click");
    b.fill("Name", "Cy Again").await;
    b.fill("Email", "cy@acme.test").await;
    b.fill("New password", &strong_password(21)).await;
    b.button("Save changes").await.click().await.expect("click");
    b.wait_text("//form//*[@role='alert']", "already").await;

    // Open Cy, move it to Support and disable it.
    b.button("Tier 1").await.click().await.expect("click");
    b.button("Cy Hand").await.click().await.expect("click");
    b.field("Move to Technician Group")
        .await
        .select_by_value(&support.to_string())
        .await
        .expect("move");
    b.field("Enabled").await.click().await.expect("untick");
    b.button("Save changes").await.click().await.expect("click");
    b.wait("//h2[starts-with(normalize-space(.), 'Technicians of Support')]")
        .await;
    b.wait("//tr[td[normalize-space(.)='cy@acme.test']]/td[normalize-space(.)='Disabled']")
        .await;
    let cy = technician(master, "cy@acme.test").await;
    assert_eq!(cy["group_id"], support, "{cy}");
    assert_eq!(cy["enabled"], false, "{cy}");
}

/// Global Settings: a change saved through the form is the organization's.
async fn settings(b: &Browser, master: &Client) {
    b.link("Global Settings")
        .await
        .click()
        .await
        .expect("click");
    b.wait("//h2[normalize-space(.)='Active Directory Synchronization']")
        .await;
    b.fill("Minimum password length", "14").await;
    b.fill("Mobile license seats", "7").await;
    b.button("Save changes").await.click().await.expect("click");
    b.wait_text("//form//*[@role='status']", "Saved").await;
    let now = master.get("/v1/settings").await.json();
    assert_eq!(now["password_policy"]["min_length"], 14, "{now}");
    assert_eq!(now["licenses"]["mobile_seats"], 7, "{now}");
    // Active Directory Synchronization: a service token shown once, then revoked.
    b.fill("Token name", "AD Connector").await;
    b.button("Generate service token")
        .await
        .click()
        .await
        .expect("click");
    let shown = b
        .wait_text("//output[@aria-label='New service token']", "rss_")
        .await;
    let listed = master.get("/v1/sync/tokens").await.json();
    assert_eq!(listed["items"][0]["name"], "AD Connector", "{listed}");
    assert!(!listed.to_string().contains(shown.trim()), "{listed}");
    let service = master.with_token(shown.trim());
    assert_eq!(service.get("/v1/imports").await.status, 403);
    b.wait("//table[@aria-label='Service tokens']//tr[td[normalize-space(.)='AD Connector']]//button[normalize-space(.)='Revoke']")
        .await
        .click()
        .await
        .expect("revoke");
    b.wait_text("//section//*[@role='status']", "revoked").await;
    assert_eq!(
        master.get("/v1/sync/tokens").await.json()["items"],
        json!([])
    );
    assert_eq!(service.get("/v1/sync/tokens").await.status, 401);
    // The default password is write-only: the page only says it is set.
    b.fill("Default password", &strong_password(30)).await;
    b.button("Save default password")
        .await
        .click()
        .await
        .expect("click");
    // "No default password is set." says "is set" too: wait for the answer.
    b.wait_text("//form//*[@role='status' and not(ancestor::form//button[normalize-space(.)='Save changes'])]", "A default password is set")
        .await;
    let now = master.get("/v1/settings").await.json();
    assert_eq!(now["sync_default_password_set"], true, "{now}");
    assert!(!now.to_string().contains(&strong_password(30)));

    // A value out of range is stopped by the form itself and changes nothing.
    b.fill("Minimum password length", "0").await;
    b.button("Save changes").await.click().await.expect("click");
    let valid = b
        .client
        .execute(
            "return document.getElementById('s-min-length').checkValidity();",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(valid, Value::Bool(false));
    assert_eq!(
        master.get("/v1/settings").await.json()["password_policy"]["min_length"],
        14
    );
}

/// At a phone's width the navigation and the import's page still fit: nothing
/// scrolls sideways, every link is visible.
async fn narrow(b: &Browser, world: &World) {
    b.resize(390, 844).await;
    b.goto(&format!("{}/imports", world.api_url)).await;
    for name in ["Imports", "Import technicians", "Organization"] {
        assert!(
            b.link(name).await.is_displayed().await.unwrap(),
            "{name} is hidden at 390 px"
        );
    }
    b.link("people.csv").await.click().await.expect("click");
    b.wait("//h2[normalize-space(.)='Import Summary']").await;
    let overflow = b
        .client
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await
        .expect("script");
    assert!(
        overflow.as_i64().unwrap_or(i64::MAX) <= 0,
        "the page is {overflow} px wider than a phone"
    );
    b.resize(1280, 800).await;
}

/// With the keyboard alone (WebDriver key actions: Tab, Shift+Tab, Enter,
/// Space, arrows, typed text): sign in, create a technician in Organization,
/// sign out. At each step the focus is on the control of that name and can
/// be seen.
async fn keyboard(b: &Browser, master: &Client, password: &str, support: i64) {
    let tab = key::TAB.to_string();
    // The sign-in page puts the focus in Email.
    b.assert_focus("Email").await;
    b.keys("ana@acme.test").await;
    b.keys(&tab).await;
    b.assert_focus("Password").await;
    b.keys(password).await;
    b.keys(&tab).await;
    b.assert_focus("Sign in").await;
    b.keys(&key::ENTER.to_string()).await;
    b.wait("//h1[normalize-space(.)='Imports']").await;

    // From the page's content back through the navigation to Organization.
    for name in ["Sign out", "Global Settings", "Organization"] {
        b.shift_tab().await;
        b.assert_focus(name).await;
    }
    b.keys(&key::ENTER.to_string()).await;
    b.wait("//h1[normalize-space(.)='Organization']").await;
    b.wait("//nav[@aria-label='Technician groups']//button[normalize-space(.)='Tier 1']")
        .await;
    for name in ["Create group", "Create technician", "Support", "Tier 1"] {
        b.keys(&tab).await;
        b.assert_focus(name).await;
    }
    b.keys(&key::ENTER.to_string()).await;
    b.wait("//h2[normalize-space(.)='Technicians of Support / Tier 1' or normalize-space(.)='Technicians of Tier 1']")
        .await;
    b.assert_focus("Tier 1").await;
    for name in ["Support", "Create technician"] {
        b.shift_tab().await;
        b.assert_focus(name).await;
    }
    b.keys(&key::ENTER.to_string()).await;

    // The form: typed fields, Space on a checkbox, arrows in a select.
    let kay = strong_password(40);
    let steps: [(&str, &str); 7] = [
        ("Name", "Kay Keys"),
        ("Nickname", ""),
        ("Email", "kay@acme.test"),
        ("Single Sign-On ID", ""),
        ("Description", "added with the keyboard"),
        ("New password", &kay),
        ("Enabled", ""),
    ];
    for (n, (name, text)) in steps.iter().enumerate() {
        if n > 0 {
            b.keys(&tab).await;
        }
        b.assert_focus(name).await;
        b.keys(text).await;
    }
    b.wait_text("//*[@id='t-strength']", "meets the policy")
        .await;
    for name in ["Standard license", "Mobile license"] {
        b.keys(&tab).await;
        b.assert_focus(name).await;
    }
    b.keys(&key::SPACE.to_string()).await;
    b.keys(&tab).await;
    let group = b.assert_focus("Technician group").await;
    assert_eq!(group.role, "combobox", "{group:?}");
    // Tier 1 is chosen (the open group); Support is above it.
    b.keys(&key::ARROW_UP.to_string()).await;
    b.keys(&tab).await;
    b.assert_focus("Save changes").await;
    b.keys(&key::ENTER.to_string()).await;

    // Saved: the focus goes to the group the technician is in now.
    b.wait("//td[normalize-space(.)='kay@acme.test']").await;
    b.assert_focus("Technicians of Support").await;
    let kay = technician(master, "kay@acme.test").await;
    assert_eq!(
        (
            &kay["name"],
            &kay["group_id"],
            &kay["mobile_license"],
            &kay["enabled"]
        ),
        (
            &json!("Kay Keys"),
            &json!(support),
            &json!(true),
            &json!(true)
        ),
        "{kay}"
    );
    assert_eq!(kay["description"], "added with the keyboard", "{kay}");

    // Back through the tree and the page's buttons to Sign out.
    for name in [
        "Tier 1",
        "Support",
        "Create technician",
        "Create group",
        "Sign out",
    ] {
        b.shift_tab().await;
        b.assert_focus(name).await;
    }
    b.keys(&key::ENTER.to_string()).await;
    b.wait_text("//*[@role='alert']", "signed out").await;
    b.assert_focus("Email").await;
}
