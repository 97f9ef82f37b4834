// Names for the generated API types (src/api/schema.d.ts, from todo/openapi.json).
import type { components } from "./schema";

type Schemas = components["schemas"];
export type Task = Schemas["Task"];
export type TaskPage = Schemas["TaskPage"];
export type TaskPatch = Schemas["TaskPatch"];
export type ParsedTask = Schemas["ParsedTask"];
export type Part = Schemas["Part"];
export type User = Schemas["User"];
export type TokenPair = Schemas["TokenPair"];
export type Registered = Schemas["Registered"];
export type Notification = Schemas["Notification"];
export type NotificationPage = Schemas["NotificationPage"];
export type Reminder = Schemas["Reminder"];
export type ReminderPage = Schemas["ReminderPage"];
export type Snooze = Schemas["Snooze"];
export type Problem = Schemas["Problem"];
export type Priority = Task["priority"];
export type Status = Task["status"];
