// Code a client writes with the generated types: it must compile under tsc --strict.
import type {
  FeedQuery,
  FollowMutation,
  LoginMutation,
  NotificationsSubscription,
  ProfileQuery,
} from "./generated";
import { ErrorCode, FollowState } from "./generated";

export function firstCaption(page: FeedQuery): string | null {
  const edge = page.feed.edges[0];
  return edge ? edge.node.caption : null;
}

export function followerTotal(profile: ProfileQuery): number | null | undefined {
  return profile.user?.followers.totalCount;
}

export function retryIn(login: LoginMutation): number | null {
  const limited = login.login.errors.find((e) => e.code === ErrorCode.RateLimited);
  return limited?.retryAfterSeconds ?? null;
}

export function following(result: FollowMutation): boolean {
  return result.follow.status === FollowState.Active;
}

export function kind(event: NotificationsSubscription): string {
  return event.notificationReceived.kind;
}
