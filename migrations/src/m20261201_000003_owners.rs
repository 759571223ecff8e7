//! Owners for every format: the first publisher of a package owns it (as cargo's owners already
//! did). Cargo's `cargo.owner.<user id>` properties become the format-blind `owner.<user id>`, and
//! each package of the other formats gets its first version's publisher as owner.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // 'cargo.owner.' is 12 characters: the user id starts at character 13.
        db.execute_unprepared(
            "UPDATE properties SET name = 'owner.' || substr(name, 13)
             WHERE version_id IS NULL AND name LIKE 'cargo.owner.%'",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO properties (package_id, version_id, name, value)
             SELECT v.package_id, NULL, 'owner.' || CAST(v.published_by AS TEXT), u.name
             FROM versions v JOIN users u ON u.id = v.published_by
             WHERE v.id IN (SELECT MIN(v2.id) FROM versions v2 GROUP BY v2.package_id)
               AND NOT EXISTS (SELECT 1 FROM properties p
                               WHERE p.package_id = v.package_id AND p.version_id IS NULL
                                 AND p.name LIKE 'owner.%')",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE properties SET name = 'cargo.owner.' || substr(name, 7)
                 WHERE version_id IS NULL AND name LIKE 'owner.%'
                   AND package_id IN (SELECT id FROM packages WHERE format = 'cargo')",
            )
            .await?;
        Ok(())
    }
}
