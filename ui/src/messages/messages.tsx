import type { ConversationView, DeviceEntry } from '../api.ts'
import type { Resource } from '../live.ts'
import type { Route } from '../route.ts'
import { ConversationList } from './conversation-list.tsx'
import { Thread } from './thread.tsx'
import { NewMessage } from './new-message.tsx'
import { Icon } from '../icons.tsx'

/** Conversations on the left, the open one (or a new message) on the right; one at a time when narrow. */
export function Messages ({ route, devices, conversations }: { route: Route & { section: 'messages' }, devices: DeviceEntry[] | undefined, conversations: Resource<ConversationView[]> }) {
  const open = route.conversation != null || route.compose === true
  return (
    <div class={open ? 'messages pane-open' : 'messages'}>
      <ConversationList conversations={conversations} selected={route.conversation} devices={devices} />
      <section class='pane' aria-label={route.conversation == null ? 'New message' : 'Conversation'}>
        {route.conversation != null && <Thread key={route.conversation} conversation={route.conversation} devices={devices} name={conversations.data?.find(c => c.conversation === route.conversation)?.name ?? null} unread={conversations.data?.find(c => c.conversation === route.conversation)?.unread ?? 0} />}
        {route.compose === true && <NewMessage devices={devices} />}
        {!open && (
          <div class='empty'>
            <Icon name='messages' size={48} />
            <p>Pick a conversation, or start a new one.</p>
            <a class='button primary' href='#/messages/new'><Icon name='plus' /> New message</a>
          </div>
        )}
      </section>
    </div>
  )
}
