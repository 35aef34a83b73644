-- Maintenance windows and pacing (issue 12 item 4). A rollout may start new attempts only inside its
-- windows (none: at any time) and at its pace; the Domain's WindowSchedule and Pace decide, this stores.
--   windows: [{"days": ["mon", …] (absent: every day), "start": "HH:mm", "end": "HH:mm", "time_zone": "UTC" | IANA name}]
alter table rollouts
    add column windows            jsonb   not null default '[]'::jsonb check (jsonb_typeof(windows) = 'array'),
    add column pace_per_minute    integer check (pace_per_minute between 1 and 1000000),
    add column pace_max_in_flight integer check (pace_max_in_flight between 1 and 1000000);

-- The per-minute budget of a paced rollout, shared by every replica: a replica admits a new device
-- under this row's lock (minute = the start of the minute its offers were counted in). Kept apart from
-- rollouts so that spending the budget does not move the catalog generation.
create table rollout_pace (
    rollout_id  bigint      primary key references rollouts (id) on delete cascade,
    minute      timestamptz not null default '-infinity',
    offers      integer     not null default 0 check (offers >= 0)
);

-- as 0005_rollout_phases, plus in_flight: attempts downloading or installing, and offers not started yet that are
-- younger than the rollout's downloading deadline (RolloutHealth.IsInFlight; RolloutHealthViewTests pins it)
create or replace view rollout_health as
select r.id as rollout_id,
       case when r.is_active then 'active' when r.halted_at is not null then 'halted' else 'paused' end as state,
       count(rd.device_id) filter (where rd.status <> 'offered')::int as attempts,
       count(rd.device_id) filter (where rd.status = 'failed')::int as failed,
       count(rd.device_id) filter (where rd.status = 'rolled_back')::int as rolled_back,
       count(rd.device_id) filter (where rd.status in ('failed', 'rolled_back', 'timed_out'))::int as failures,
       count(rd.device_id) filter (where rd.status = 'timed_out')::int as timed_out,
       count(rd.device_id) filter (where rd.status = 'confirmed')::int as confirmed,
       count(rd.device_id) filter (
           where rd.status in ('downloading', 'installing')
              or (rd.status = 'offered' and rd.offered_at + make_interval(mins => r.deadline_downloading_minutes) > now()))::int as in_flight
from rollouts r
left join rollout_devices rd on rd.rollout_id = r.id
group by r.id;
