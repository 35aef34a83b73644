-- Rollout events through an outbox: each event is inserted in the same transaction as the change that
-- causes it (a halt, an operator's pause or resume, a rollback's creation, a completion, a phase
-- advance), together with one delivery row per configured webhook endpoint. Webhook senders on any
-- replica claim due deliveries with FOR UPDATE SKIP LOCKED and a lease, so nothing is lost across
-- restarts and no two replicas send the same attempt at once. The kinds are the Domain's
-- RolloutEventKind wire names; the payload's data is its schema (RolloutEvent.SchemaVersion).
create table rollout_events (
    id              bigint      generated always as identity primary key,
    rollout_id      bigint      references rollouts (id) on delete set null,
    rollout_name    text        not null,
    kind            text        not null check (kind in ('rollout.halted', 'rollout.resumed', 'rollout.paused', 'rollout.completed',
                                                         'rollout.rollback_started', 'rollout.phase_advanced')),
    schema_version  integer     not null,
    device_model    text        not null,
    firmware_version text       not null,
    data            jsonb       not null,
    occurred_at     timestamptz not null default now()
);
create index rollout_events_rollout_idx on rollout_events (rollout_name, id desc);
-- at most one completion per rollout, whatever replicas race to record it
create unique index rollout_events_one_completion on rollout_events (rollout_id) where kind = 'rollout.completed';

create table rollout_event_deliveries (
    event_id        bigint      not null references rollout_events (id) on delete cascade,
    endpoint        text        not null,
    state           text        not null default 'pending' check (state in ('pending', 'delivered', 'given_up')),
    attempts        integer     not null default 0,
    next_attempt_at timestamptz not null default now(),
    lease_token     uuid,
    lease_until     timestamptz,
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    primary key (event_id, endpoint)
);
create index rollout_event_deliveries_due_idx on rollout_event_deliveries (next_attempt_at) where state = 'pending';

-- when the rollout completed (RolloutCompletion in the Domain); set once, with its event
alter table rollouts add column completed_at timestamptz;

-- The one SQL definition of a completed rollout, pinned to the Domain's RolloutCompletion by a test:
-- active, reaching its whole target (specific, or 100 %), at least one confirmed attempt, and no
-- unblocked device of its model that it targets still short of its version (a downgrade rollout: not on it).
create view rollout_completion as
select r.id as rollout_id,
       r.is_active
       and (r.target_type = 'specific' or r.rollout_percentage = 100)
       and exists (select 1 from rollout_devices rd where rd.rollout_id = r.id and rd.status = 'confirmed')
       and not exists (
           select 1
           from devices d
           where d.device_model = r.device_model
             and not exists (select 1 from device_blocks b where b.device_id = d.device_id)
             and case r.target_type
                     when 'specific' then coalesce(r.target_filter -> 'device_ids', '[]'::jsonb) ? d.device_id
                     when 'group' then jsonb_typeof(d.metadata -> 'groups') = 'array'
                                       and (d.metadata -> 'groups') ?| array(select jsonb_array_elements_text(coalesce(r.target_filter -> 'groups', '[]'::jsonb)))
                     else true
                 end
             -- the same text is the same version: most devices of a nearly complete rollout skip the key
             and d.current_firmware_version is distinct from r.firmware_version
             and case when r.allow_downgrade
                      then ota_semver_key(d.current_firmware_version) is distinct from ota_semver_key(r.firmware_version)
                      else ota_semver_key(d.current_firmware_version) < ota_semver_key(r.firmware_version)
                 end
       ) as complete
from rollouts r;
