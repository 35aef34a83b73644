-- A rollout's state and health, defined once for every SQL that reads them (the admin API's
-- progress, the fleet gauges, the halt evaluation, the dashboard). The Domain's definitions
-- (RolloutState, RolloutHealth) are the policy; RolloutHealthViewTests pins this view to them.
--   state:    active while is_active; otherwise halted when its own threshold stopped it, else paused
--             (an operator flipping is_active in SQL makes a rollout simply active, as Rollout.Restore does)
--   attempts: devices of the rollout that started the update (any status but 'offered')
--   failures: attempts that ended failed or rolled back
create view rollout_health as
select r.id as rollout_id,
       case when r.is_active then 'active' when r.halted_at is not null then 'halted' else 'paused' end as state,
       count(rd.device_id) filter (where rd.status <> 'offered')::int as attempts,
       count(rd.device_id) filter (where rd.status = 'failed')::int as failed,
       count(rd.device_id) filter (where rd.status = 'rolled_back')::int as rolled_back,
       count(rd.device_id) filter (where rd.status in ('failed', 'rolled_back'))::int as failures
from rollouts r
left join rollout_devices rd on rd.rollout_id = r.id
group by r.id;
