-- Row-level security: one policy per command, named as a sentence, roles stated.
-- What is not granted here is denied (writes to members and invites go through functions).

-- profiles
create policy "Signed-in users can read profiles" on public.profiles
  for select to authenticated using (true);
create policy "Users can update their own profile" on public.profiles
  for update to authenticated
  using (id = (select auth.uid())) with check (id = (select auth.uid()));

-- rooms
create policy "Anyone can read coworking rooms" on public.rooms
  for select to anon, authenticated using (kind = 'coworking');
create policy "Members and invitees can read private rooms" on public.rooms
  for select to authenticated
  using (kind = 'private' and (private.is_room_member(id) or private.has_pending_invite(id)));
create policy "Owners and admins can update private rooms" on public.rooms
  for update to authenticated
  using (kind = 'private' and private.has_room_role(id, '{owner,admin}'))
  with check (kind = 'private' and private.has_room_role(id, '{owner,admin}'));
create policy "Owners can delete private rooms" on public.rooms
  for delete to authenticated using (kind = 'private' and private.has_room_role(id, '{owner}'));

-- room_members
create policy "Members can read the members of their rooms" on public.room_members
  for select to authenticated
  using (private.is_room_member(room_id) or (left_at is null and private.is_coworking_room(room_id)));
create policy "Members can update their own mic and read marker" on public.room_members
  for update to authenticated
  using (user_id = (select auth.uid()) and left_at is null)
  with check (user_id = (select auth.uid()) and left_at is null);

-- room_invites
create policy "Invitees, inviters and room members can read invites" on public.room_invites
  for select to authenticated
  using (invitee_id = (select auth.uid()) or inviter_id = (select auth.uid()) or private.is_room_member(room_id));

-- room_messages
create policy "Members can read room messages" on public.room_messages
  for select to authenticated using (private.is_room_member(room_id));
create policy "Members can send text and emoji messages as themselves" on public.room_messages
  for insert to authenticated
  with check (
    sender_id = (select auth.uid())
    and kind in ('text', 'emoji')
    and deleted_at is null
    and private.is_room_member(room_id)
    and exists (select 1 from public.rooms r where r.id = room_id and r.status = 'active'));

-- message_reactions
create policy "Members can read reactions" on public.message_reactions
  for select to authenticated using (private.is_room_member(room_id));
create policy "Members can react as themselves" on public.message_reactions
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and private.is_room_member(room_id)
    and exists (select 1 from public.room_messages m where m.id = message_id and m.deleted_at is null));
create policy "Users can remove their own reactions" on public.message_reactions
  for delete to authenticated using (user_id = (select auth.uid()) and private.is_room_member(room_id));
