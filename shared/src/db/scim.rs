//! SCIM links (API.md v1.1, "SCIM 2.0 for Okta and Microsoft Entra ID"): which
//! technicians a SCIM client provisioned, by the technician group of its token.
//! Every lookup is per (organization, group): a token of another group or
//! organization finds nothing. Ending a link never deletes the technician.

use super::directory::{TECH_COLUMNS, technician_from_row, technician_in};
use super::{Db, DbResult, TechnicianWrite};
use crate::model::{
    GroupId, OrgId, ScimAttributes, ScimCondition, ScimUser, TechnicianCreate, TechnicianId,
};
use crate::time::now_ms;
use sqlx::{AssertSqlSafe, Row};

/// The link's columns and the technician's, for a join of both.
fn columns() -> String {
    let technician: Vec<String> = TECH_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect();
    format!(
        "s.id AS scim_id, s.group_id AS scim_group_id, s.external_id AS scim_external_id, \
         s.given_name AS scim_given_name, s.family_name AS scim_family_name, \
         s.created_at AS scim_created_at, s.updated_at AS scim_updated_at, {}",
        technician.join(", ")
    )
}

const JOIN: &str =
    "FROM scim_users s JOIN technicians t ON t.id = s.technician_id AND t.org_id = s.org_id";

fn from_row(row: &sqlx::any::AnyRow) -> DbResult<ScimUser> {
    Ok(ScimUser {
        id: row.try_get("scim_id")?,
        group_id: row.try_get("scim_group_id")?,
        external_id: row.try_get("scim_external_id")?,
        given_name: row.try_get("scim_given_name")?,
        family_name: row.try_get("scim_family_name")?,
        created_at: row.try_get("scim_created_at")?,
        updated_at: row.try_get("scim_updated_at")?,
        technician: technician_from_row(row)?,
    })
}

/// What provisioning a new SCIM user came to.
#[derive(Debug)]
pub enum ScimCreate {
    Created(Box<ScimUser>),
    /// Refused as a single creation would be (email taken, no seat).
    Refused(TechnicianCreate),
}

impl Db {
    /// The SCIM users of `group` in `org` that match every condition, in the
    /// order they were provisioned (a stable order for paging): the total
    /// count and the `limit` of them after the first `offset`.
    pub async fn scim_users(
        &self,
        org: OrgId,
        group: GroupId,
        conditions: &[ScimCondition],
        offset: i64,
        limit: i64,
    ) -> DbResult<(i64, Vec<ScimUser>)> {
        let mut filter = String::new();
        for (at, condition) in conditions.iter().enumerate() {
            let column = match condition {
                ScimCondition::UserName(_) => "t.email_key",
                ScimCondition::ExternalId(_) => "s.external_id",
            };
            filter.push_str(&format!(" AND {column} = ${}", at + 3));
        }
        let count_sql =
            format!("SELECT COUNT(*) {JOIN} WHERE s.org_id = $1 AND s.group_id = $2{filter}");
        let total: i64 = bind_all(
            sqlx::query(AssertSqlSafe(count_sql)).bind(org).bind(group),
            conditions,
        )
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        if limit == 0 || offset >= total {
            return Ok((total, Vec::new()));
        }
        let n = conditions.len();
        let sql = format!(
            "SELECT {} {JOIN} WHERE s.org_id = $1 AND s.group_id = $2{filter} \
             ORDER BY s.created_at, s.id LIMIT ${} OFFSET ${}",
            columns(),
            n + 3,
            n + 4
        );
        let rows = bind_all(
            sqlx::query(AssertSqlSafe(sql)).bind(org).bind(group),
            conditions,
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((total, rows.iter().map(from_row).collect::<DbResult<_>>()?))
    }

    /// SCIM user `id` of `group` in `org`.
    pub async fn scim_user(
        &self,
        org: OrgId,
        group: GroupId,
        id: &str,
    ) -> DbResult<Option<ScimUser>> {
        let sql = format!(
            "SELECT {} {JOIN} WHERE s.org_id = $1 AND s.group_id = $2 AND s.id = $3",
            columns()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(org)
            .bind(group)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The SCIM link of technician `technician` of `org`, in any group.
    pub async fn scim_link_of(
        &self,
        org: OrgId,
        technician: TechnicianId,
    ) -> DbResult<Option<(String, GroupId)>> {
        Ok(sqlx::query_as(
            "SELECT id, group_id FROM scim_users WHERE org_id = $1 AND technician_id = $2",
        )
        .bind(org)
        .bind(technician)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Creates technician `t` and its SCIM link for `group` in one transaction.
    pub async fn create_scim_user(
        &self,
        org: OrgId,
        group: GroupId,
        t: &TechnicianWrite,
        attributes: &ScimAttributes,
    ) -> DbResult<ScimCreate> {
        let mut tx = self.pool.begin().await?;
        let technician = match self.insert_technician(&mut tx, org, t).await? {
            Ok(id) => id,
            Err(refused) => return Ok(ScimCreate::Refused(refused)),
        };
        let id = insert_link(&mut tx, org, group, technician, attributes).await?;
        let user = ScimUser {
            id,
            group_id: group,
            external_id: attributes.external_id.clone(),
            given_name: attributes.given_name.clone(),
            family_name: attributes.family_name.clone(),
            created_at: now_ms(),
            updated_at: now_ms(),
            technician: technician_in(&mut tx, org, technician).await?,
        };
        tx.commit().await?;
        Ok(ScimCreate::Created(Box::new(user)))
    }

    /// Links technician `technician` of `org` (which has no link) to `group`;
    /// `None` when it has a link already (the unique index decides a race).
    pub async fn link_scim_user(
        &self,
        org: OrgId,
        group: GroupId,
        technician: TechnicianId,
        attributes: &ScimAttributes,
    ) -> DbResult<Option<String>> {
        let mut tx = self.pool.begin().await?;
        match insert_link(&mut tx, org, group, technician, attributes).await {
            Ok(id) => {
                tx.commit().await?;
                Ok(Some(id))
            }
            Err(e) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets what the link of SCIM user `id` of `group` in `org` keeps.
    pub async fn set_scim_attributes(
        &self,
        org: OrgId,
        group: GroupId,
        id: &str,
        attributes: &ScimAttributes,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE scim_users SET external_id = $1, given_name = $2, family_name = $3, updated_at = $4 \
             WHERE org_id = $5 AND group_id = $6 AND id = $7",
        )
        .bind(attributes.external_id.as_deref())
        .bind(attributes.given_name.as_deref())
        .bind(attributes.family_name.as_deref())
        .bind(now_ms())
        .bind(org)
        .bind(group)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends the link of SCIM user `id` of `group` in `org` (the technician
    /// stays); false when there was none.
    pub async fn unlink_scim_user(&self, org: OrgId, group: GroupId, id: &str) -> DbResult<bool> {
        let done =
            sqlx::query("DELETE FROM scim_users WHERE org_id = $1 AND group_id = $2 AND id = $3")
                .bind(org)
                .bind(group)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds each condition's value, in order.
fn bind_all<'q>(mut query: AnyQuery<'q>, conditions: &[ScimCondition]) -> AnyQuery<'q> {
    for condition in conditions {
        query = match condition {
            ScimCondition::UserName(name) => query.bind(crate::validate::email_key(name)),
            ScimCondition::ExternalId(id) => query.bind(id.clone()),
        };
    }
    query
}

async fn insert_link(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org: OrgId,
    group: GroupId,
    technician: TechnicianId,
    attributes: &ScimAttributes,
) -> DbResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO scim_users (id, org_id, group_id, technician_id, external_id, given_name, \
         family_name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(org)
    .bind(group)
    .bind(technician)
    .bind(attributes.external_id.as_deref())
    .bind(attributes.given_name.as_deref())
    .bind(attributes.family_name.as_deref())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}
