-- Devices an operator has blocked (revoked): every request of theirs is refused, whatever their
-- certificate says. Not a column of devices, so that a device can be blocked before it ever checked
-- in (a cloned certificate), and the seed's SQL over devices is untouched. Blocks are part of the
-- catalog every replica caches, so a change moves the catalog generation.
create table device_blocks (
    device_id   text        primary key,
    reason      text        not null,
    blocked_by  text        not null,
    blocked_at  timestamptz not null default now()
);

create trigger device_blocks_catalog_changed
  after insert or update or delete on device_blocks
  for each statement execute function ota_bump_catalog_generation();
