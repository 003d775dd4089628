"""Train a small CNN actor-critic (A2C) on the batched LyraScene-v0 in plain PyTorch.

    python examples/train_torch.py --prompt "an office with two desks" --num-envs 64 --updates 500
    python examples/train_torch.py --scene out/office_bundle --device cpu --num-envs 8
    lyra-sim episodes out/flat --num 500 --seed 1 --out flat_eval.json.gz
    python examples/train_torch.py --scene out/flat --updates 2000 --eval-episodes flat_eval.json.gz

All ``N`` agents live in one vector env that renders their observations in one rasterizer
call per step (gsplat on CUDA), and with ``array_type="torch"`` observations, rewards and
flags come back as tensors on that device: nothing is copied to the host during a rollout.

The vector env follows Gymnasium 1.x "next step" autoreset: after a step that ends an
episode (terminated or truncated), that step's observation is the episode's final one, and
the *next* step resets the env, ignores its action and returns reward 0. That transition
is not experience, so it is masked out of the loss; a truncated episode's return is
bootstrapped from the value of its final observation.

With ``--eval-episodes DATASET`` (``lyra-sim episodes``) the trained policy then runs every
episode of that dataset once, acting on its mean action, and the success rate and SPL are
printed: the same episodes for every method and run (`evaluate`). In a house, training episodes
cross at least ``--min-rooms-crossed`` rooms (default: 1 in a building, 0 in a single room).
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import torch
from torch import nn
from torch.distributions import Normal

import lyra_sim  # noqa: F401  (registers LyraScene-v0)


class ActorCritic(nn.Module):
    """Image + point goal → Gaussian policy over (linear, angular) velocity, and a state value."""

    def __init__(self) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(3, 16, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(16, 32, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),  # any image size → 32 × 4 × 4 features
        )
        self.body = nn.Sequential(nn.Linear(32 * 16 + 3, 256), nn.ReLU())
        self.mean = nn.Linear(256, 2)
        self.log_std = nn.Parameter(torch.full((2,), -0.5))
        self.value = nn.Linear(256, 1)

    def forward(self, obs: dict[str, torch.Tensor]) -> tuple[Normal, torch.Tensor]:
        image = obs["rgb"].permute(0, 3, 1, 2).float() / 255  # [B, H, W, 3] uint8 → [B, 3, H, W]
        distance, heading = obs["pointgoal"].unbind(-1)
        goal = torch.stack([distance, torch.cos(heading), torch.sin(heading)], -1)  # no jump at ±π
        h = self.body(torch.cat([self.cnn(image), goal], -1))
        return Normal(torch.tanh(self.mean(h)), self.log_std.exp()), self.value(h).squeeze(-1)


def discounted_returns(
    rewards: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor, next_values: torch.Tensor, gamma: float
) -> torch.Tensor:
    """Bootstrapped returns ``[T, N]`` of a rollout (all arguments ``[T, N]``).

    ``next_values[t]`` is the value of the observation that step ``t`` returned. A terminated
    episode has no future; a truncated one was cut short, so its return is bootstrapped from
    its final observation (step ``t``'s, in next-step autoreset); otherwise the return runs on
    into step ``t + 1`` (or, after the last step, into ``next_values[-1]``).
    """
    returns = torch.empty_like(rewards)
    ret = next_values[-1]
    for t in reversed(range(len(rewards))):
        future = torch.where(truncated[t], next_values[t], ret)
        ret = rewards[t] + gamma * torch.where(terminated[t], 0.0, future)
        returns[t] = ret
    return returns


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", help="generate the scene from this prompt (procedural world model)")
    src.add_argument("--scene", help="an existing bundle directory, scene directory or .ply")
    p.add_argument("--seed", type=int, default=0, help="scene generation, episodes and network")
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--updates", type=int, default=500, help="gradient steps")
    p.add_argument("--rollout", type=int, default=32, help="steps per env between updates")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--entropy-coef", type=float, default=0.01)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--max-episode-steps", type=int, default=200)
    p.add_argument("--min-geodesic", type=float, default=1.0, help="minimum start-to-goal path length, meters")
    p.add_argument("--min-rooms-crossed", type=int, help="rooms a training episode's path crosses (default 1 in a building, 0 in a room)")
    p.add_argument("--eval-episodes", help="after training, run this episode dataset (lyra-sim episodes) once and print success and SPL")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", help="save the trained network's state_dict here (torch.save)")
    return p.parse_args(argv)


def task_options(args: argparse.Namespace) -> dict:
    task = {"max_episode_steps": args.max_episode_steps, "min_geodesic": args.min_geodesic}
    if args.min_rooms_crossed is not None:
        task["min_rooms_crossed"] = args.min_rooms_crossed
    return task


@torch.no_grad()
def evaluate(model: ActorCritic, scene: str | None, prompt: str | None, episodes: str, args: argparse.Namespace) -> dict:
    """Success rate and SPL of ``model`` (mean actions) over every episode of the dataset ``episodes``, once.

    ``num_envs`` envs replay it (env ``i`` runs episodes ``i``, ``i + N``, ...); each dataset episode
    counts the first time it ends, so every one is scored exactly once whatever ``N`` is (host
    syncs each step: this is evaluation, not training).
    """
    device = torch.device(args.device)
    envs = gym.make_vec(
        "LyraScene-v0", num_envs=args.num_envs, vectorization_mode="vector_entry_point", array_type="torch",
        prompt=prompt, scene=scene, seed=args.seed, width=args.width, height=args.height, device=device,
        task={"max_episode_steps": args.max_episode_steps}, episodes=episodes,
    )
    total = len(envs.unwrapped.scenes.dataset)
    success = torch.zeros(total, device=device)
    spl = torch.zeros(total, device=device)
    scored = torch.zeros(total, dtype=torch.bool, device=device)
    obs, info = envs.reset(seed=0)
    while not bool(scored.all()):
        index = info["episode_index"]  # the episode each env runs (before this step's autoreset)
        obs, _, term, trunc, info_next = envs.step(model(obs)[0].mean.clamp(-1, 1))
        ended = (term | trunc) & ~scored[index]  # an episode run twice at once scores the same: the policy is deterministic
        success[index[ended]] = info_next["success"][ended].float()
        spl[index[ended]] = info_next["spl"][ended].float()
        scored[index[ended]] = True
        info = info_next
    envs.close()
    result = {"episodes": total, "success_rate": float(success.mean()), "spl": float(spl.mean())}
    print(f"eval on {episodes}: {total} episodes, success rate {result['success_rate']:.3f}, SPL {result['spl']:.3f}")
    return result


def main(argv: list[str] | None = None) -> tuple[ActorCritic, list[float]]:
    """Train; returns the network and the loss of every update."""
    args = parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    model = ActorCritic().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    envs = gym.make_vec(
        "LyraScene-v0", num_envs=args.num_envs, vectorization_mode="vector_entry_point", array_type="torch",
        prompt=args.prompt, scene=args.scene, seed=args.seed, width=args.width, height=args.height, device=device,
        task=task_options(args),
    )
    n, steps = args.num_envs, args.rollout
    obs, _ = envs.reset(seed=args.seed)
    ended = torch.zeros(n, dtype=torch.bool, device=device)  # env ended an episode on the previous step
    episode_return = torch.zeros(n, device=device)
    losses = []
    for update in range(1, args.updates + 1):
        batch, actions, rewards, terminated, truncated, valid = [], [], [], [], [], []
        finished = returns_sum = successes = torch.zeros((), device=device)
        for _ in range(steps):
            with torch.no_grad():
                action = model(obs)[0].sample()
            next_obs, reward, term, trunc, info = envs.step(action.clamp(-1, 1))  # the env rejects values outside [-1, 1]
            batch.append(obs)
            actions.append(action)
            rewards.append(reward)
            terminated.append(term)
            truncated.append(trunc)
            valid.append(~ended)  # this step reset an env that had ended: not a transition of the policy
            episode_return += reward
            ended = term | trunc
            # Masks rather than boolean indexing: nothing waits on the GPU inside the rollout.
            finished = finished + ended.sum()
            returns_sum = returns_sum + (episode_return * ended).sum()
            successes = successes + (info["success"] & ended).sum()
            episode_return = episode_return * ~ended
            obs = next_obs

        stacked = {k: torch.cat([o[k] for o in batch]) for k in obs}  # [steps * n, ...]
        dist, values = model(stacked)
        values = values.view(steps, n)
        log_prob = dist.log_prob(torch.cat(actions)).sum(-1).view(steps, n)
        entropy = dist.entropy().sum(-1).view(steps, n)
        with torch.no_grad():
            # Value after each step: of the next batch entry, or of the observation after the rollout.
            next_values = torch.cat([values[1:], model(obs)[1][None]])
            returns = discounted_returns(
                torch.stack(rewards), torch.stack(terminated), torch.stack(truncated), next_values, args.gamma
            )
        mask = torch.stack(valid).float()  # at least one valid step per env whenever steps >= 2
        advantage = returns - values
        policy_loss = -(log_prob * advantage.detach() * mask).sum() / mask.sum()
        value_loss = (advantage.pow(2) * mask).sum() / mask.sum()
        entropy_bonus = (entropy * mask).sum() / mask.sum()
        loss = policy_loss + 0.5 * value_loss - args.entropy_coef * entropy_bonus
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        losses.append(loss.item())

        done = int(finished)
        summary = f"episodes {done}, mean return {float(returns_sum) / done:.3f}, success rate {float(successes) / done:.2f}" if done else "no episode ended"
        print(f"update {update}/{args.updates}  env steps {update * steps * n}  loss {losses[-1]:.4f}  {summary}")
    envs.close()
    if args.out:
        torch.save(model.state_dict(), args.out)
        print(f"saved {args.out}")
    if args.eval_episodes:
        evaluate(model, args.scene, args.prompt, args.eval_episodes, args)
    return model, losses


if __name__ == "__main__":
    main()
