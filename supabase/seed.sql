-- Default coworking rooms. Idempotent: re-running keeps existing rooms (matched by name) as they are.
insert into roomkit.rooms (kind, name, description, capacity)
select 'coworking', seed.name, seed.description, seed.capacity
from (values
  ('Focus Zone', 'Deep work, cameras off, mics mostly muted.', 10),
  ('Creative Studio', 'Design, writing and making things together.', 15),
  ('Study Hall', 'Quiet study sessions.', 20),
  ('Coffee Break', 'Casual chat between sprints.', 12),
  ('Sprint Room', 'Short timed sprints with check-ins.', 8)
) as seed (name, description, capacity)
where not exists (select 1 from roomkit.rooms r where r.kind = 'coworking' and r.name = seed.name);
