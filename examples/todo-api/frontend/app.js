// Minimal client for the Todo API (see architecture/backend.md).
const API = window.TODO_API || "http://localhost:8000";

async function load() {
  const res = await fetch(`${API}/todos?limit=100`);
  const page = await res.json();
  const list = document.getElementById("todos");
  list.innerHTML = "";
  for (const todo of page.items) {
    const li = document.createElement("li");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = todo.completed;
    box.addEventListener("change", () => update(todo.id, { completed: box.checked }));
    li.append(box, " ", todo.title);
    list.append(li);
  }
}

async function update(id, changes) {
  await fetch(`${API}/todos/${id}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(changes),
  });
  await load();
}

document.getElementById("new-todo").addEventListener("submit", async (event) => {
  event.preventDefault();
  const title = document.getElementById("title");
  await fetch(`${API}/todos`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ title: title.value }),
  });
  title.value = "";
  await load();
});

load();
