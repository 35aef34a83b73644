-- Paku OTA: initial schema.
-- Table and column names keep the seed document's SQL working unchanged
-- (devices.metadata->'groups', device_update_status.reported_at, firmware_releases.created_at, ...).

-- SemVer 2.0 precedence as a sortable key, so SQL (dashboards, reports) never compares
-- versions as strings. NULL for text that is not a valid version. A leading v/V is accepted.
-- Key shape: [major, minor, patch (20-digit zero-padded), then per pre-release identifier
-- '0'+20-digit number or '1'+hex of the text; a release ends with '2', which sorts after
-- every pre-release]. Only [0-9a-f] appear, so every collation orders it the same way.
create function ota_semver_key(v text) returns text[]
language plpgsql immutable parallel safe as $$
declare
  m text[];
  key text[];
  ident text;
begin
  if v is null or length(v) > 128 then return null; end if;
  m := regexp_match(v,
    '^[vV]?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)'
    '(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?'
    '(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$');
  if m is null then return null; end if;
  if length(m[1]) > 20 or length(m[2]) > 20 or length(m[3]) > 20
     or m[1]::numeric > 18446744073709551615 or m[2]::numeric > 18446744073709551615
     or m[3]::numeric > 18446744073709551615 then
    return null;
  end if;
  key := array[lpad(m[1], 20, '0'), lpad(m[2], 20, '0'), lpad(m[3], 20, '0')];
  if m[4] is null then
    return key || '2'::text;
  end if;
  foreach ident in array string_to_array(m[4], '.') loop
    if ident ~ '^[0-9]+$' then
      if length(ident) > 20 then return null; end if;
      key := key || ('0' || lpad(ident, 20, '0'));
    else
      key := key || ('1' || encode(convert_to(ident, 'UTF8'), 'hex'));
    end if;
  end loop;
  return key;
end
$$;

-- Firmware images, stored once per content (deduplicated by SHA-256) and apart from
-- release metadata, so listing releases never reads the bytes.
create table firmware_binaries (
    sha256      text        primary key check (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes  bigint      not null check (size_bytes > 0),
    content     bytea       not null,
    created_at  timestamptz not null default now(),
    check (octet_length(content) = size_bytes)
);
-- firmware is already dense; skip compression so ranged reads need no decompression
alter table firmware_binaries alter column content set storage external;

create table firmware_releases (
    id                  bigint      generated always as identity primary key,
    version             text        not null check (ota_semver_key(version) is not null),
    device_model        text        not null,
    checksum_sha256     text        not null references firmware_binaries (sha256),
    size_bytes          bigint      not null,
    min_version         text        check (min_version is null or ota_semver_key(min_version) is not null),
    changelog           text,
    release_notes       text,
    is_signed           boolean     not null default false,
    signature           bytea,
    signature_algorithm text,
    signing_key_id      text,
    withdrawn_at        timestamptz,
    withdrawn_reason    text,
    created_by          text,
    created_at          timestamptz not null default now(),
    -- two versions that differ only in build metadata have the same precedence: one release
    version_precedence  text generated always as (split_part(version, '+', 1)) stored,
    constraint firmware_releases_model_version_key unique (device_model, version_precedence),
    check (is_signed = (signature is not null)),
    check ((signature is null) = (signature_algorithm is null))
);
create index firmware_releases_checksum_idx on firmware_releases (checksum_sha256);
create index firmware_releases_model_created_idx on firmware_releases (device_model, created_at desc);

create table rollouts (
    id                          bigint      generated always as identity primary key,
    name                        text        not null,
    release_id                  bigint      not null references firmware_releases (id),
    firmware_version            text        not null,
    device_model                text        not null,
    target_type                 text        not null check (target_type in ('specific', 'canary', 'all', 'group')),
    target_filter               jsonb       not null default '{}'::jsonb,
    rollout_percentage          integer     not null default 100 check (rollout_percentage between 0 and 100),
    is_active                   boolean     not null default true,
    allow_downgrade             boolean     not null default false,
    failure_threshold_percent   numeric(5,2) not null default 5 check (failure_threshold_percent > 0 and failure_threshold_percent <= 100),
    failure_min_attempts        integer     not null default 20 check (failure_min_attempts >= 1),
    pause_reason                text,
    halted_at                   timestamptz,
    halt_details                jsonb,
    created_by                  text,
    created_at                  timestamptz not null default now(),
    updated_at                  timestamptz not null default now(),
    constraint rollouts_name_key unique (name)
);
create index rollouts_active_model_idx on rollouts (device_model) where is_active;
create index rollouts_release_idx on rollouts (release_id);

create table devices (
    device_id                   text        primary key,
    device_model                text        not null,
    current_firmware_version    text        not null,
    metadata                    jsonb       not null default '{}'::jsonb,
    first_seen                  timestamptz not null default now(),
    last_seen                   timestamptz not null default now(),
    -- what the last check offered the device (the rollout a later status report belongs to)
    offered_rollout_id          bigint      references rollouts (id) on delete set null,
    offered_version             text,
    offered_at                  timestamptz,
    -- the device's current update attempt (the lifecycle state; history is in device_update_status)
    update_rollout_id           bigint      references rollouts (id) on delete set null,
    update_target_version       text,
    update_from_version         text,
    update_status               text        check (update_status in ('downloading', 'installing', 'success', 'confirmed', 'rolled_back', 'failed')),
    update_progress             integer     check (update_progress between 0 and 100),
    update_changed_at           timestamptz
);
create index devices_model_idx on devices (device_model);
create index devices_last_seen_idx on devices (last_seen);
create index devices_groups_idx on devices using gin ((metadata -> 'groups'));

-- Per rollout and device: the outcome the rollout's progress and health are counted from.
create table rollout_devices (
    rollout_id      bigint      not null references rollouts (id) on delete cascade,
    device_id       text        not null references devices (device_id) on delete cascade,
    from_version    text,
    status          text        not null default 'offered'
                                check (status in ('offered', 'downloading', 'installing', 'success', 'confirmed', 'rolled_back', 'failed')),
    progress        integer     not null default 0 check (progress between 0 and 100),
    attempts        integer     not null default 0,
    offered_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    primary key (rollout_id, device_id)
);
create index rollout_devices_device_idx on rollout_devices (device_id);
create index rollout_devices_rollout_status_idx on rollout_devices (rollout_id, status);

-- Append-only history of every status a device reported or the server derived.
create table device_update_status (
    id                  bigint      generated always as identity primary key,
    device_id           text        not null,
    firmware_version    text        not null,
    status              text        not null check (status in ('downloading', 'installing', 'success', 'confirmed', 'rolled_back', 'failed')),
    progress_percent    integer     not null default 0 check (progress_percent between 0 and 100),
    error_message       text,
    rollout_id          bigint      references rollouts (id) on delete set null,
    source              text        not null default 'device' check (source in ('device', 'server')),
    reported_at         timestamptz not null default now()
);
create index device_update_status_device_time_idx on device_update_status (device_id, reported_at desc);
create index device_update_status_time_idx on device_update_status (reported_at desc);
create index device_update_status_version_idx on device_update_status (firmware_version, reported_at desc);

create table audit_log (
    id          bigint      generated always as identity primary key,
    at          timestamptz not null default now(),
    actor       text        not null,
    action      text        not null,
    target      text,
    outcome     text        not null,
    details     jsonb
);
create index audit_log_at_idx on audit_log (at desc);

-- One row whose number moves whenever a release or rollout changes, so every replica
-- can tell cheaply that its cached copy of them is stale.
create table catalog_generation (
    id          boolean     primary key default true check (id),
    generation  bigint      not null
);
insert into catalog_generation (generation) values (1);

create function ota_bump_catalog_generation() returns trigger
language plpgsql as $$
begin
  update catalog_generation set generation = generation + 1;
  return null;
end
$$;

create trigger firmware_releases_catalog_changed
  after insert or update or delete on firmware_releases
  for each statement execute function ota_bump_catalog_generation();
create trigger rollouts_catalog_changed
  after insert or update or delete on rollouts
  for each statement execute function ota_bump_catalog_generation();
