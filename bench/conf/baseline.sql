-- The one-upsert baseline's table: the devices table's shape (columns, defaults and indexes, so a
-- check-in's update touches the same indexes), in a database of its own on the same cluster.
-- psql -v fleet=N fills it with N devices named like the service's fleet.
create table bench_devices (
    device_id                   text        primary key,
    device_model                text        not null,
    current_firmware_version    text        not null,
    metadata                    jsonb       not null default '{}'::jsonb,
    first_seen                  timestamptz not null default now(),
    last_seen                   timestamptz not null default now(),
    offered_rollout_id          bigint,
    offered_version             text,
    offered_at                  timestamptz,
    update_rollout_id           bigint,
    update_target_version       text,
    update_from_version         text,
    update_status               text,
    update_progress             integer,
    update_changed_at           timestamptz
);
insert into bench_devices (device_id, device_model, current_firmware_version, metadata, offered_rollout_id, offered_version, offered_at)
select 'dev-' || lpad(i::text, 7, '0'),
       (array['esp32', 'esp32s3', 'esp32c3'])[i % 3 + 1],
       '1.0.0',
       case when i % 10 = 0 then jsonb_build_object('groups', jsonb_build_array('site:north')) else '{}'::jsonb end,
       1, '1.1.0', now()
from generate_series(0, :fleet - 1) as i;
create index bench_devices_model_idx on bench_devices (device_model);
create index bench_devices_last_seen_idx on bench_devices (last_seen);
create index bench_devices_groups_idx on bench_devices using gin ((metadata -> 'groups'));
vacuum analyze bench_devices;
