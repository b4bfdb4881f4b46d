//! Fresh stores for each test, and the macro that runs a test on both backends.

use drover_store::Store;

pub async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    (Store::connect(&url).await.unwrap(), dir)
}

pub async fn postgres() -> Store {
    let admin = std::env::var("DROVER_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("DROVER_TEST_POSTGRES_URL is not set: run `export DROVER_TEST_POSTGRES_URL=$(scripts/pg-test-server)` (the README's test command does)")
    });
    sqlx::any::install_default_drivers();
    let name = format!("drover_t_{:016x}", rand_u64());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    Store::connect(&format!("{base}/{name}")).await.unwrap()
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.finish()
}

/// `conformance!(name)` makes `name::sqlite` and `name::postgres` from `async fn name(Store)`.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let (store, _dir) = $crate::backends::sqlite().await;
                super::$name(store).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name($crate::backends::postgres().await).await;
            }
        }
    )*};
}
