//! The global (replicated) schema, named after LXD's tables so its facts carry over.

use crate::db::migrations::{Migration, latest};

/// Schema version: the last migration's. A member refuses to serve with another member on a
/// different one (see `cluster::versions`).
pub const VERSION: i64 = latest(MIGRATIONS) as i64;

/// The replicated database's migrations, in order; append, never edit a released step.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        what: "the schema as first released",
        sql: SCHEMA,
    },
    Migration {
        version: 2,
        what: "certificate add tokens",
        sql: CERTIFICATE_ADD_TOKENS,
    },
    Migration {
        version: 3,
        what: "images and instances",
        sql: IMAGES_AND_INSTANCES,
    },
    Migration {
        version: 4,
        what: "per-member storage pool and network states, storage volumes",
        sql: POOLS_NETWORKS_VOLUMES,
    },
    Migration {
        version: 5,
        what: "networks realised as bridges on their members",
        sql: NETWORKS_REALISED,
    },
];

/// Version 5: whether a network's members make it as a bridge (`realised` 1: it went
/// through the API's cluster-wide create), so a member joining later makes one too. The
/// bootstrap preseed's network stays 0: it is never a bridge on the host.
pub const NETWORKS_REALISED: &str = "
ALTER TABLE networks ADD COLUMN realised INTEGER NOT NULL DEFAULT 0;
";

/// Version 3: images (which members hold each, by `images_nodes`), their aliases, and
/// instances with their configuration (`volatile.*` included, as LXD keeps it).
pub const IMAGES_AND_INSTANCES: &str = "
CREATE TABLE images (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    fingerprint   TEXT NOT NULL,
    filename      TEXT NOT NULL,
    size          INTEGER NOT NULL,
    public        INTEGER NOT NULL DEFAULT 0,
    architecture  TEXT NOT NULL,
    creation_date TEXT NOT NULL,
    upload_date   TEXT NOT NULL,
    type          TEXT NOT NULL DEFAULT 'container',
    UNIQUE (fingerprint)
);
CREATE TABLE images_properties (
    id       INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    UNIQUE (image_id, key)
);
CREATE TABLE images_aliases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name        TEXT NOT NULL,
    image_id    INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    UNIQUE (name)
);
CREATE TABLE images_nodes (
    image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    node_id  INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    UNIQUE (image_id, node_id)
);
CREATE TABLE instances (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    node_id       INTEGER NOT NULL REFERENCES nodes (id),
    name          TEXT NOT NULL,
    project       TEXT NOT NULL DEFAULT 'default',
    type          INTEGER NOT NULL DEFAULT 0,
    architecture  TEXT NOT NULL,
    ephemeral     INTEGER NOT NULL DEFAULT 0,
    description   TEXT NOT NULL DEFAULT '',
    creation_date TEXT NOT NULL,
    last_use_date TEXT NOT NULL DEFAULT '',
    UNIQUE (project, name)
);
CREATE TABLE instances_config (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    UNIQUE (instance_id, key)
);
";

/// Version 4: the two-phase creation of pools and networks keeps each member's own state
/// (0 pending, 1 created, 2 errored, as LXD); custom volumes live on one member
/// (`node_id`), so one name may exist once per member.
pub const POOLS_NETWORKS_VOLUMES: &str = "
CREATE TABLE storage_pools_nodes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    storage_pool_id INTEGER NOT NULL REFERENCES storage_pools (id) ON DELETE CASCADE,
    node_id         INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    state           INTEGER NOT NULL DEFAULT 0,
    UNIQUE (storage_pool_id, node_id)
);
CREATE TABLE networks_nodes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    network_id INTEGER NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    node_id    INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    state      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (network_id, node_id)
);
CREATE TABLE storage_volumes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name            TEXT NOT NULL,
    storage_pool_id INTEGER NOT NULL REFERENCES storage_pools (id) ON DELETE CASCADE,
    node_id         INTEGER REFERENCES nodes (id) ON DELETE CASCADE,
    type            INTEGER NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    project         TEXT NOT NULL DEFAULT 'default',
    content_type    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (storage_pool_id, node_id, project, name, type)
);
CREATE TABLE storage_volumes_config (
    id                INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    storage_volume_id INTEGER NOT NULL REFERENCES storage_volumes (id) ON DELETE CASCADE,
    key               TEXT NOT NULL,
    value             TEXT NOT NULL,
    UNIQUE (storage_volume_id, key)
);
";

/// Version 2: tokens that let a new client add its certificate (`corral config trust add`),
/// apart from join tokens, whose names are members' and which the cluster list shows.
/// `request` is the `POST /1.0/certificates` that asked for the token, as JSON.
pub const CERTIFICATE_ADD_TOKENS: &str = "
CREATE TABLE certificate_add_tokens (
    uuid        TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    secret      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    addresses   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    node_id     INTEGER NOT NULL,
    request     TEXT NOT NULL
);
";

/// Rows every database holds from its creation: put back after a wipe.
pub const BUILT_IN_ROWS: &str = "INSERT OR IGNORE INTO cluster_groups (id, name, description) VALUES (1, 'default', 'Default cluster group');";

/// Version 1: the tables of the replicated database, as the release before migrations made
/// them (`IF NOT EXISTS`: such a file, at `user_version` 0, is taken to version 1 unchanged). `raft_applied` is written in the same transaction
/// as every applied entry, so the state machine knows exactly where it stands.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS raft_applied (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS config (
    id    INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    key   VARCHAR(255) NOT NULL,
    value TEXT,
    UNIQUE (key)
);
CREATE TABLE IF NOT EXISTS nodes (
    id             INTEGER PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    address        TEXT NOT NULL,
    schema         INTEGER NOT NULL,
    api_extensions INTEGER NOT NULL,
    heartbeat      DATETIME NOT NULL,
    state          INTEGER NOT NULL DEFAULT 0,
    arch           TEXT NOT NULL,
    failure_domain TEXT NOT NULL DEFAULT 'default',
    db_role        INTEGER NOT NULL DEFAULT 2,
    clock_skew_ms  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name),
    UNIQUE (address)
);
CREATE TABLE IF NOT EXISTS nodes_config (
    id      INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    UNIQUE (node_id, key)
);
CREATE TABLE IF NOT EXISTS nodes_roles (
    node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    UNIQUE (node_id, role)
);
CREATE TABLE IF NOT EXISTS cluster_groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    UNIQUE (name)
);
INSERT OR IGNORE INTO cluster_groups (id, name, description) VALUES (1, 'default', 'Default cluster group');
CREATE TABLE IF NOT EXISTS nodes_cluster_groups (
    node_id  INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES cluster_groups (id) ON DELETE CASCADE,
    UNIQUE (node_id, group_id)
);
CREATE TABLE IF NOT EXISTS certificates (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    fingerprint TEXT NOT NULL,
    type        INTEGER NOT NULL,
    name        TEXT NOT NULL,
    certificate TEXT NOT NULL,
    restricted  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (fingerprint)
);
CREATE TABLE IF NOT EXISTS storage_pools (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name        TEXT NOT NULL,
    driver      TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    state       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name)
);
CREATE TABLE IF NOT EXISTS storage_pools_config (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    storage_pool_id INTEGER NOT NULL REFERENCES storage_pools (id) ON DELETE CASCADE,
    node_id         INTEGER REFERENCES nodes (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    value           TEXT,
    UNIQUE (storage_pool_id, node_id, key)
);
CREATE TABLE IF NOT EXISTS networks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    project     TEXT NOT NULL DEFAULT 'default',
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    state       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (project, name)
);
CREATE TABLE IF NOT EXISTS networks_config (
    id         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    network_id INTEGER NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    node_id    INTEGER REFERENCES nodes (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    value      TEXT,
    UNIQUE (network_id, node_id, key)
);
CREATE TABLE IF NOT EXISTS profiles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    project     TEXT NOT NULL DEFAULT 'default',
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    UNIQUE (project, name)
);
CREATE TABLE IF NOT EXISTS profiles_config (
    id         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    UNIQUE (profile_id, key)
);
CREATE TABLE IF NOT EXISTS profiles_devices (
    id         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    UNIQUE (profile_id, name)
);
CREATE TABLE IF NOT EXISTS profiles_devices_config (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    profile_device_id  INTEGER NOT NULL REFERENCES profiles_devices (id) ON DELETE CASCADE,
    key                TEXT NOT NULL,
    value              TEXT NOT NULL,
    UNIQUE (profile_device_id, key)
);
CREATE TABLE IF NOT EXISTS join_tokens (
    uuid        TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    secret      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    addresses   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    node_id     INTEGER NOT NULL,
    UNIQUE (name)
);
CREATE TABLE IF NOT EXISTS operations (
    id      INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    uuid    TEXT NOT NULL,
    node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    type    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (uuid)
);
";
