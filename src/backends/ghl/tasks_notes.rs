//! Tasks and notes under a contact: list, get, create, update, (complete,) delete.
//!
//! The API does not page either list. Creates are never repeated blindly; updates and deletes
//! are.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::client::{Call, seg};
use super::contacts::{Succeded, confirm, not_found_as_none};
use super::models::{NewNote, NewTask, Note, NoteUpdate, Task, TaskUpdate};
use super::{GhlClient, GhlError};

#[derive(Deserialize)]
struct TasksEnvelope {
    tasks: Vec<Task>,
}

#[derive(Deserialize)]
struct TaskEnvelope {
    task: Task,
}

#[derive(Deserialize)]
struct NotesEnvelope {
    notes: Vec<Note>,
}

#[derive(Deserialize)]
struct NoteEnvelope {
    note: Note,
}

#[derive(Serialize)]
struct Completed {
    completed: bool,
}

fn task_path(contact_id: &str, task_id: &str) -> String {
    format!("contacts/{}/tasks/{}", seg(contact_id), seg(task_id))
}

fn note_path(contact_id: &str, note_id: &str) -> String {
    format!("contacts/{}/notes/{}", seg(contact_id), seg(note_id))
}

impl GhlClient {
    /// `GET /contacts/{id}/tasks`.
    pub async fn list_tasks(&self, contact_id: &str) -> Result<Vec<Task>, GhlError> {
        let path = format!("contacts/{}/tasks", seg(contact_id));
        let call = Call::new("listTasks", Method::GET, path);
        Ok(self.send::<TasksEnvelope>(call).await?.tasks)
    }

    /// `GET /contacts/{id}/tasks/{taskId}`; `None` when there is no such task.
    pub async fn get_task(
        &self,
        contact_id: &str,
        task_id: &str,
    ) -> Result<Option<Task>, GhlError> {
        let call = Call::new("getTask", Method::GET, task_path(contact_id, task_id));
        Ok(not_found_as_none(self.send::<TaskEnvelope>(call).await)?.map(|e| e.task))
    }

    /// `POST /contacts/{id}/tasks`.
    pub async fn create_task(&self, contact_id: &str, task: &NewTask) -> Result<Task, GhlError> {
        let path = format!("contacts/{}/tasks", seg(contact_id));
        let call = Call::new("createTask", Method::POST, path).body(task)?;
        Ok(self.send::<TaskEnvelope>(call).await?.task)
    }

    /// `PUT /contacts/{id}/tasks/{taskId}`.
    pub async fn update_task(
        &self,
        contact_id: &str,
        task_id: &str,
        update: &TaskUpdate,
    ) -> Result<Task, GhlError> {
        let call =
            Call::new("updateTask", Method::PUT, task_path(contact_id, task_id)).body(update)?;
        Ok(self.send::<TaskEnvelope>(call).await?.task)
    }

    /// `PUT /contacts/{id}/tasks/{taskId}/completed`.
    pub async fn complete_task(
        &self,
        contact_id: &str,
        task_id: &str,
        completed: bool,
    ) -> Result<Task, GhlError> {
        let path = format!("{}/completed", task_path(contact_id, task_id));
        let call = Call::new("completeTask", Method::PUT, path).body(&Completed { completed })?;
        Ok(self.send::<TaskEnvelope>(call).await?.task)
    }

    /// `DELETE /contacts/{id}/tasks/{taskId}`.
    pub async fn delete_task(&self, contact_id: &str, task_id: &str) -> Result<(), GhlError> {
        let call = Call::new("deleteTask", Method::DELETE, task_path(contact_id, task_id));
        match self.send_removal::<Succeded>(call).await? {
            Some(answer) => confirm("deleteTask", answer.succeded),
            None => Ok(()),
        }
    }

    /// `GET /contacts/{id}/notes`.
    pub async fn list_notes(&self, contact_id: &str) -> Result<Vec<Note>, GhlError> {
        let path = format!("contacts/{}/notes", seg(contact_id));
        let call = Call::new("listNotes", Method::GET, path);
        Ok(self.send::<NotesEnvelope>(call).await?.notes)
    }

    /// `GET /contacts/{id}/notes/{noteId}`; `None` when there is no such note.
    pub async fn get_note(
        &self,
        contact_id: &str,
        note_id: &str,
    ) -> Result<Option<Note>, GhlError> {
        let call = Call::new("getNote", Method::GET, note_path(contact_id, note_id));
        Ok(not_found_as_none(self.send::<NoteEnvelope>(call).await)?.map(|e| e.note))
    }

    /// `POST /contacts/{id}/notes`.
    pub async fn create_note(&self, contact_id: &str, note: &NewNote) -> Result<Note, GhlError> {
        let path = format!("contacts/{}/notes", seg(contact_id));
        let call = Call::new("createNote", Method::POST, path).body(note)?;
        Ok(self.send::<NoteEnvelope>(call).await?.note)
    }

    /// `PUT /contacts/{id}/notes/{noteId}`.
    pub async fn update_note(
        &self,
        contact_id: &str,
        note_id: &str,
        update: &NoteUpdate,
    ) -> Result<Note, GhlError> {
        let call =
            Call::new("updateNote", Method::PUT, note_path(contact_id, note_id)).body(update)?;
        Ok(self.send::<NoteEnvelope>(call).await?.note)
    }

    /// `DELETE /contacts/{id}/notes/{noteId}`.
    pub async fn delete_note(&self, contact_id: &str, note_id: &str) -> Result<(), GhlError> {
        let call = Call::new("deleteNote", Method::DELETE, note_path(contact_id, note_id));
        match self.send_removal::<Succeded>(call).await? {
            Some(answer) => confirm("deleteNote", answer.succeded),
            None => Ok(()),
        }
    }
}
