-- pgbench -M prepared -D fleet=N: the one-upsert baseline's statement, straight at PostgreSQL.
\set id random(0, :fleet - 1)
insert into bench_devices as d (device_id, device_model, current_firmware_version)
values ('dev-' || lpad(:id::text, 7, '0'), (array['esp32', 'esp32s3', 'esp32c3'])[:id % 3 + 1], '1.0.0')
on conflict (device_id) do update
   set device_model = excluded.device_model,
       current_firmware_version = excluded.current_firmware_version,
       last_seen = now()
returning d.device_id, d.device_model, d.current_firmware_version, d.first_seen, d.last_seen;
